package test

// Goroutine leaks in the agent loop: start and stop agent.Run and
// agent.Serve many times in this process and compare runtime.NumGoroutine.

import (
	"context"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tend-project/tend/internal/agent"
)

// settleGoroutines waits up to 5 s for the goroutine count to fall to want
// or below and returns the last count.
func settleGoroutines(want int) int {
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		n := runtime.NumGoroutine()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// goroutineDump is the stacks of every goroutine, for a failure message.
func goroutineDump() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// TestLeakAgentRun starts the agent's loop and HTTP server with a context
// that is canceled already, at a random point during the first cycle, or
// after it, many times over, and wants the goroutine count back where it
// started. The server's shutdown and the loop's timers must not leave
// anything behind.
func TestLeakAgentRun(t *testing.T) {
	cfg, addr := webhookAgent(t, "s", "  interval: 50ms\n  watch: true\n")
	a, err := agent.New(cfg, "test", nil)
	if err != nil {
		t.Fatal(err)
	}

	cycle := func(wait time.Duration, hook bool) {
		ctx, cancel := context.WithCancel(context.Background())
		if wait < 0 {
			cancel()
		}
		served := make(chan error, 1)
		ran := make(chan error, 1)
		go func() { served <- a.Serve(ctx) }()
		go func() { ran <- a.Run(ctx) }()
		if hook && wait > 0 {
			// a webhook request and a scrape while the loop runs
			if resp, err := http.Post("http://"+addr+"/hooks/sync", "application/json", strings.NewReader("{}")); err == nil {
				resp.Body.Close()
			}
			if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
				resp.Body.Close()
			}
		}
		if wait > 0 {
			time.Sleep(wait)
		}
		cancel()
		for _, c := range []chan error{ran, served} {
			select {
			case err := <-c:
				if err != nil {
					t.Errorf("after cancel: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("Run or Serve did not return within 30s of cancel:\n%s", goroutineDump())
			}
		}
		http.DefaultClient.CloseIdleConnections()
	}

	cycle(300*time.Millisecond, true) // warm up: clone, first apply, lazily started goroutines
	before := settleGoroutines(0)
	rng := rand.New(rand.NewPCG(1, 2))
	const rounds = 30
	for i := range rounds {
		switch i % 3 {
		case 0:
			cycle(-1, false) // canceled before it starts
		case 1:
			cycle(time.Duration(rng.IntN(200))*time.Millisecond, true) // canceled mid-cycle
		default:
			cycle(time.Duration(200+rng.IntN(300))*time.Millisecond, true) // after a cycle and drift checks
		}
	}
	after := settleGoroutines(before + 2)
	t.Logf("goroutines: %d before, %d after %d start/stop rounds", before, after, rounds)
	if after > before+2 {
		t.Errorf("goroutines grew from %d to %d over %d rounds of Run+Serve:\n%s", before, after, rounds, goroutineDump())
	}
}
