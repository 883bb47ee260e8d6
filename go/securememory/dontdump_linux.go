package gosecret

import "syscall"

// madvDontDump is MADV_DONTDUMP, 16 on every Linux architecture; the syscall
// package only names it on some of them.
const madvDontDump = 0x10

// dontDump keeps the pages out of core dumps.
func dontDump(b []byte) error { return syscall.Madvise(b, madvDontDump) }
