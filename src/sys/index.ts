/** The only FFI in Berth: libc calls Node lacks (mount, umount2, mknod, *xattr, setns), loaded on first use. */
export * from './libc.ts';
