/**
 * The only FFI in Berth: libc calls Node lacks (mount, umount2, mknod, *xattr, setns, posix_spawn, memfd_create,
 * pidfd_open and poll), loaded on first use through koffi.ts's `libcFunctions`, AF_UNIX SOCK_SEQPACKET sockets
 * (conmon's attach socket) as net.Sockets, and rtnetlink.
 */
export * from './libc.ts';
export * from './seqpacket.ts';
export * from './netlink.ts';
export * from './spawn.ts';
export * from './memfd.ts';
export * from './pidfd.ts';
export { koffiLoaded } from './koffi.ts';
