package notify

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestBroadcastWakesEveryWaiterOnce(t *testing.T) {
	var b Broadcast
	w1, w2 := b.Wait(), b.Wait()
	if w1 != w2 {
		t.Fatal("two waits before a fire got different channels")
	}
	b.Fire()
	for _, w := range []<-chan struct{}{w1, w2} {
		select {
		case <-w:
		default:
			t.Fatal("a waiter was not woken")
		}
	}
	w3 := b.Wait()
	select {
	case <-w3:
		t.Fatal("a wait after the fire was woken by it")
	default:
	}
	b.Fire()
	b.Fire() // nobody waits: nothing to do
}

func TestKickCoalescesAndNeverBlocks(t *testing.T) {
	k := NewKick()
	k.Notify()
	k.Notify()
	<-k
	select {
	case <-k:
		t.Fatal("two kicks woke twice")
	default:
	}
}

func TestRunStepsOnKickAndTimeUntilDone(t *testing.T) {
	k := NewKick()
	done := make(chan struct{})
	steps := make(chan int, 10)
	n := 0
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		Run(done, k, func() time.Duration {
			n++
			steps <- n
			if n == 2 {
				return time.Nanosecond // the timer brings step 3
			}
			return time.Hour
		})
	}()
	<-steps // the first step runs at once
	k.Notify()
	<-steps // a kick brings the second
	<-steps // its short wait the third
	close(done)
	<-finished
}

func TestWaitTimeoutReportsWhetherDone(t *testing.T) {
	var wg sync.WaitGroup
	if !WaitTimeout(&wg, time.Hour) {
		t.Fatal("an idle WaitGroup was not done")
	}
	wg.Add(1)
	if WaitTimeout(&wg, time.Millisecond) {
		t.Fatal("a busy WaitGroup was done")
	}
	wg.Done()
}
