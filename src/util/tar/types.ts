/** The kinds of tar entries Berth reads and writes. */
export type TarEntryType = 'file' | 'link' | 'symlink' | 'character-device' | 'block-device' | 'directory' | 'fifo';

/** One entry's metadata, after PAX, GNU long-name and long-link records have been applied. */
export interface TarHeader {
  /** Path exactly as in the archive after PAX/GNU long-name resolution (no normalisation; may end in '/'). */
  name: string;
  /**
   * '0', '\0' and '7' are 'file' ('\0' with a name ending in '/' is an old-style 'directory'); '1' 'link'
   * (a hard link); '2' 'symlink'; '3' 'character-device'; '4' 'block-device'; '5' 'directory'; '6' 'fifo'.
   */
  type: TarEntryType;
  /** Bytes of body (0 for every type but 'file'). */
  size: number;
  /** Permission bits including setuid/setgid/sticky (07777), no file-type bits. */
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** Seconds since the epoch; may be fractional (PAX mtime) or negative. */
  mtime: number;
  /** The target of a link or symlink ('' otherwise). */
  linkname: string;
  devmajor: number;
  devminor: number;
  /** From PAX 'SCHILY.xattr.<name>' records (raw bytes) and 'LIBARCHIVE.xattr.<name>' (base64). */
  xattrs: Map<string, Buffer>;
  /**
   * Every PAX record that applied to this entry (global, then local), values decoded as UTF-8.
   * Binary values (xattrs) are better read from `xattrs`.
   */
  pax: Record<string, string>;
}

/** An entry being read. `body` streams the entry's bytes; it may be left unread. */
export interface TarEntry {
  header: TarHeader;
  body: AsyncIterable<Buffer>;
}

/** An entry to write. A streamed body needs `header.size`; a Uint8Array body gives its own. */
export interface PackEntry {
  header: Partial<TarHeader> & { name: string };
  body?: AsyncIterable<Uint8Array> | Uint8Array;
}
