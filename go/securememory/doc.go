// Package gosecret is a small Go secret held in protected memory, written as
// a test subject for the gate's live Go measurement (docs/live-go.md).
//
// It follows the access protocol of Asherah's Go secrets (memguard-backed and
// protectedmemory): the secret lives on its own mmap'd page(s) between two
// guard pages, locked in RAM and inaccessible (PROT_NONE) while nobody reads
// it. A counter of accessors makes the page readable when it goes 0 -> 1 and
// inaccessible again when it goes 1 -> 0, so that goroutines reading the same
// secret at once share one mprotect pair. That sharing is why Go's
// RunParallel figures are inverse throughput and must be compared with
// parallel Rust figures only (DESIGN.md, "The central lesson").
//
// It is deliberately small: no canaries, no reader, no secret factory. It
// exists so that the gate can run real `go test -bench` output on the same
// runner as the Rust benches, using the standard library only.
package gosecret
