//go:build linux || darwin

package gosecret

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
)

// ErrClosed is returned by an access to a closed secret.
var ErrClosed = errors.New("gosecret: the secret is closed")

// mprotectCalls counts every mprotect call made by this package, so that
// benchmarks can report mprotect calls per operation: a deterministic figure
// that shows the accessor counter at work (2 per op sequentially, far fewer
// when goroutines overlap).
var mprotectCalls atomic.Uint64

// MprotectCalls returns the number of mprotect calls made so far.
func MprotectCalls() uint64 { return mprotectCalls.Load() }

// Secret is a byte string kept in locked, normally inaccessible memory.
type Secret struct {
	mu        sync.Mutex
	released  *sync.Cond // signalled when accessors falls to 0, for Close
	mapping   []byte     // the whole mapping: guard, data page(s), guard
	pages     []byte     // the data page(s) inside the mapping
	data      []byte     // the secret, right-aligned against the rear guard
	accessors int
	closed    bool
}

// New copies b into a new secret and wipes b, so that the only copy of the
// bytes is the protected one.
func New(b []byte) (*Secret, error) {
	if len(b) == 0 {
		return nil, errors.New("gosecret: a secret needs at least one byte")
	}
	page := os.Getpagesize()
	dataPages := (len(b) + page - 1) / page
	mapping, err := syscall.Mmap(-1, 0, (dataPages+2)*page,
		syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil, fmt.Errorf("gosecret: mmap of %d pages: %w", dataPages+2, err)
	}
	s := &Secret{mapping: mapping, pages: mapping[page : page+dataPages*page]}
	s.released = sync.NewCond(&s.mu)
	fail := func(what string, err error) (*Secret, error) {
		_ = syscall.Munmap(mapping)
		return nil, fmt.Errorf("gosecret: %s: %w", what, err)
	}
	// Guard pages: any overflow off either end of the data faults.
	if err := protect(mapping[:page], syscall.PROT_NONE); err != nil {
		return fail("mprotect of the front guard page", err)
	}
	if err := protect(mapping[page+dataPages*page:], syscall.PROT_NONE); err != nil {
		return fail("mprotect of the rear guard page", err)
	}
	if err := syscall.Mlock(s.pages); err != nil {
		return fail(fmt.Sprintf("mlock of %d bytes (is RLIMIT_MEMLOCK too small? raise it with `ulimit -l`)", len(s.pages)), err)
	}
	// The data pages get flags of their own, so the kernel never merges them
	// with the guard pages' areas and re-splits them on every toggle.
	if err := dontDump(s.pages); err != nil {
		return fail("madvise(DONTDUMP)", err)
	}
	s.data = s.pages[len(s.pages)-len(b):]
	copy(s.data, b)
	wipe(b)
	if err := protect(s.pages, syscall.PROT_NONE); err != nil {
		return fail("mprotect of the data pages", err)
	}
	return s, nil
}

// WithBytes calls action with the secret's bytes, readable for the duration
// of the call only. The slice must not be kept or written to.
func (s *Secret) WithBytes(action func([]byte) error) error {
	if err := s.access(); err != nil {
		return err
	}
	defer s.release()
	return action(s.data)
}

// WithBytesFunc is WithBytes for an action that returns bytes built from the
// secret.
func (s *Secret) WithBytesFunc(action func([]byte) ([]byte, error)) ([]byte, error) {
	if err := s.access(); err != nil {
		return nil, err
	}
	defer s.release()
	return action(s.data)
}

// IsClosed reports whether Close has been called.
func (s *Secret) IsClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close refuses new accessors, waits for the ones inside, wipes the bytes and
// unmaps the memory. Closing twice is not an error.
func (s *Secret) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	for s.accessors > 0 {
		s.released.Wait()
	}
	if err := protect(s.pages, syscall.PROT_READ|syscall.PROT_WRITE); err != nil {
		return fmt.Errorf("gosecret: mprotect before wiping: %w", err)
	}
	wipe(s.pages)
	if err := syscall.Munlock(s.pages); err != nil {
		return fmt.Errorf("gosecret: munlock: %w", err)
	}
	if err := syscall.Munmap(s.mapping); err != nil {
		return fmt.Errorf("gosecret: munmap: %w", err)
	}
	s.mapping, s.pages, s.data = nil, nil, nil
	return nil
}

// access registers an accessor; the first one makes the pages readable.
func (s *Secret) access() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.accessors == 0 {
		if err := protect(s.pages, syscall.PROT_READ); err != nil {
			return fmt.Errorf("gosecret: mprotect(READ): %w", err)
		}
	}
	s.accessors++
	return nil
}

// release unregisters an accessor; the last one makes the pages inaccessible
// again and wakes a waiting Close.
func (s *Secret) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accessors--
	if s.accessors == 0 {
		if err := protect(s.pages, syscall.PROT_NONE); err != nil {
			// Leaving a secret readable silently would defeat its purpose.
			panic(fmt.Sprintf("gosecret: mprotect(NONE): %v", err))
		}
		s.released.Broadcast()
	}
}

func protect(b []byte, prot int) error {
	mprotectCalls.Add(1)
	return syscall.Mprotect(b, prot)
}

// wipe zeroes b. A plain loop: the compiler does not elide stores to memory
// the caller still holds.
func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
