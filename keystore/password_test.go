package keystore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// checks reports whether password matches hash, failing t if it could
// not be checked.
func checks(t *testing.T, hash, password string) bool {
	t.Helper()
	ok, err := CheckPassword(context.Background(), hash, password)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword(context.Background(), "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not an argon2id PHC string with the expected parameters", h)
	}
	if strings.Contains(h, "correct horse") {
		t.Fatal("the hash contains the password")
	}
	if !checks(t, h, "correct horse battery") {
		t.Fatal("the right password does not match")
	}
	if checks(t, h, "correct horse batterz") || checks(t, h, "") {
		t.Fatal("a wrong password matches")
	}
	h2, _ := HashPassword(context.Background(), "correct horse battery")
	if h2 == h {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if err := CheckNoPassword(context.Background(), "anything"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dummyHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("the dummy hash %q does not cost what a real one does", dummyHash)
	}
}

func TestPasswordHashMalformed(t *testing.T) {
	h, _ := HashPassword(context.Background(), "correct horse battery")
	parts := strings.Split(h, "$")
	for name, bad := range map[string]string{
		"empty":       "",
		"bcrypt":      "$2a$10$abcdefghijklmnopqrstuv",
		"argon2i":     strings.Replace(h, "argon2id", "argon2i", 1),
		"huge memory": strings.Replace(h, "m=19456", "m=99999999", 1),
		"many passes": strings.Replace(h, "t=2", "t=1000", 1),
		"bad salt":    strings.Join([]string{"", parts[1], parts[2], parts[3], "!!", parts[5]}, "$"),
		"short key":   strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4], "AAAA"}, "$"),
	} {
		if checks(t, bad, "correct horse battery") {
			t.Errorf("%s: a malformed hash matched", name)
		}
	}
}

// The queue lets as many runs through as it has slots, keeps up to its
// bound waiting, refuses the next caller at once, and lets a waiter
// leave when its context ends.
func TestHashQueueBoundsWaiters(t *testing.T) {
	q := newHashQueue(1, 2)
	release, err := q.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Two waiters fill the queue.
	got := make(chan error, 2)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			r, err := q.acquire(context.Background())
			if err == nil {
				r()
			}
			got <- err
		})
	}
	for q.waiting.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	if _, err := q.acquire(context.Background()); !errors.Is(err, ErrPasswordBusy) {
		t.Fatalf("a third waiter: %v, want ErrPasswordBusy", err)
	}
	release()
	wg.Wait()
	for range 2 {
		if err := <-got; err != nil {
			t.Fatalf("a waiter: %v, want a slot once released", err)
		}
	}
	if n := q.waiting.Load(); n != 0 {
		t.Fatalf("%d still counted waiting", n)
	}

	// A waiter whose context ends leaves the queue with its error.
	release, _ = q.acquire(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := q.acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a waiter past its deadline: %v", err)
	}
	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	release()
	if _, err := q.acquire(canceled); !errors.Is(err, context.Canceled) {
		t.Fatalf("a caller already canceled took a free slot: %v", err)
	}
	if n := q.waiting.Load(); n != 0 || len(q.slots) != 0 {
		t.Fatalf("after: %d waiting, %d slots held", n, len(q.slots))
	}
}

// A check whose context has ended reports it and matches nothing.
func TestCheckPasswordCanceled(t *testing.T) {
	h, _ := HashPassword(context.Background(), "correct horse battery")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if ok, err := CheckPassword(ctx, h, "correct horse battery"); ok || !errors.Is(err, context.Canceled) {
		t.Fatalf("CheckPassword(canceled) = %v, %v", ok, err)
	}
	if _, err := HashPassword(ctx, "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("HashPassword(canceled): %v", err)
	}
}
