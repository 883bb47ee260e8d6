package gosecret

import (
	"bytes"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
)

// payload is the 32-byte secret the Rust benches and Asherah's Go benches use.
func payload(t testing.TB) []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewCopiesAndWipesTheSource(t *testing.T) {
	src := payload(t)
	want := append([]byte(nil), src...)
	s, err := New(src)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !bytes.Equal(src, make([]byte, len(src))) {
		t.Errorf("the source was not wiped: %x", src)
	}
	err = s.WithBytes(func(b []byte) error {
		if !bytes.Equal(b, want) {
			t.Errorf("WithBytes saw %x, want %x", b, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSequentialAccessCostsOneMprotectPair(t *testing.T) {
	s, err := New(payload(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := MprotectCalls()
	for i := 0; i < 10; i++ {
		if err := s.WithBytes(func([]byte) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if got := MprotectCalls() - before; got != 20 {
		t.Errorf("10 sequential accesses made %d mprotect calls, want 20", got)
	}
}

func TestNestedAccessSharesThePair(t *testing.T) {
	s, err := New(payload(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := MprotectCalls()
	err = s.WithBytes(func([]byte) error {
		return s.WithBytes(func([]byte) error { return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := MprotectCalls() - before; got != 2 {
		t.Errorf("a nested access made %d mprotect calls, want 2 (0->1 and 1->0 only)", got)
	}
}

func TestActionErrorAndResultPassThrough(t *testing.T) {
	s, err := New([]byte("abc"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	boom := errors.New("boom")
	if err := s.WithBytes(func([]byte) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("WithBytes returned %v, want the action's error", err)
	}
	got, err := s.WithBytesFunc(func(b []byte) ([]byte, error) { return append([]byte(nil), b...), nil })
	if err != nil || string(got) != "abc" {
		t.Errorf("WithBytesFunc = %q, %v; want \"abc\", nil", got, err)
	}
}

func TestCloseWaitsForAccessorsAndRefusesNewOnes(t *testing.T) {
	s, err := New(payload(t))
	if err != nil {
		t.Fatal(err)
	}
	inside, leave := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = s.WithBytes(func([]byte) error {
			close(inside)
			<-leave
			return nil
		})
	}()
	<-inside
	closed := make(chan error)
	go func() { closed <- s.Close() }()
	select {
	case <-closed:
		t.Fatal("Close returned while an accessor was inside")
	default:
	}
	close(leave)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if !s.IsClosed() {
		t.Error("IsClosed is false after Close")
	}
	if err := s.WithBytes(func([]byte) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("access after Close returned %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("a second Close returned %v", err)
	}
}

func TestEmptySecretIsRefused(t *testing.T) {
	if _, err := New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
}

// benchSecret runs op on one shared secret with b.RunParallel, as Asherah's Go
// benchmarks do: at -cpu 1 one goroutine runs (the sequential cost of one
// operation), at -cpu N, N goroutines share the secret and ns/op is wall time
// over all operations (inverse throughput). It reports mprotect calls per
// operation, which shows how much the accessor counter saved.
func benchSecret(b *testing.B, op func(*Secret) error) {
	s, err := New(payload(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	before := MprotectCalls()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(s); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(MprotectCalls()-before)/float64(b.N), "mprotect/op")
}

func BenchmarkSecret_WithBytes(b *testing.B) {
	benchSecret(b, func(s *Secret) error {
		return s.WithBytes(func(bs []byte) error {
			if len(bs) != 32 {
				return errors.New("wrong length")
			}
			return nil
		})
	})
}

func BenchmarkSecret_WithBytesFunc(b *testing.B) {
	benchSecret(b, func(s *Secret) error {
		_, err := s.WithBytesFunc(func(bs []byte) ([]byte, error) {
			return bs[:1], nil
		})
		return err
	})
}
