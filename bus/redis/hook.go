package redis

// hook runs a resubscribe callback on its own goroutine. The one-slot wake
// channel coalesces triggers that arrive while fn runs into one more call:
// a second revalidation straight after the first would learn nothing new.
type hook struct {
	fn     func()
	wake   chan struct{}
	done   chan struct{}
	exited chan struct{}
}

func newHook(fn func()) *hook {
	k := &hook{fn: fn, wake: make(chan struct{}, 1), done: make(chan struct{}), exited: make(chan struct{})}
	go k.run()
	return k
}

func (k *hook) run() {
	defer close(k.exited)
	for {
		select {
		case <-k.wake:
		case <-k.done:
			return
		}
		select {
		case <-k.done: // Close won the race with a trigger
			return
		default:
		}
		k.fn()
	}
}

func (k *hook) trigger() {
	select {
	case k.wake <- struct{}{}:
	default:
	}
}

// end stops the hook and waits for a call under way to return.
func (k *hook) end() {
	close(k.done)
	<-k.exited
}
