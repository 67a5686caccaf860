package test

// Load: the agent's HTTP endpoints under a burst of hostile webhook requests,
// and big playbooks and templates in bounded memory. Figures are logged; the
// only assertions are correctness and generous bounds (no wall-clock limits
// beyond client timeouts).

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tend-project/tend/internal/testsupport/gitserver"
)

func relFreeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// daemon is a running `tend agent` (not --once) serving HTTP.
type daemon struct {
	base   string
	cmd    *exec.Cmd
	out    *syncBuffer
	secret string
}

// webhookAgent writes an agent config in a temp dir: a small repo whose
// playbook writes one file, a webhook secret, a free 127.0.0.1 port, and
// the given lines under drift:. It returns the config path and the address.
func webhookAgent(t *testing.T, secret, drift string) (cfg, addr string) {
	t.Helper()
	gitserver.NeedTool(t, "git")
	repo := gitserver.NewBare(t)
	dir := t.TempDir()
	repo.Commit(map[string]string{"local.yml": fmt.Sprintf(`- hosts: all
  gather_facts: false
  tasks:
    - copy: {content: "hello\n", dest: %q}
`, filepath.Join(dir, "motd"))})
	secretFile := filepath.Join(dir, "webhook-secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr = relFreeAddr(t)
	cfg = filepath.Join(dir, "tend.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`source:
  url: %q
  interval: 1h
  splay: 0s
host: localhost
backend: native
playbook: local.yml
drift:
%slisten: %q
webhook_secret_file: %q
state_dir: %q
`, repo.Bare, drift, addr, secretFile, filepath.Join(dir, "state"))), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, addr
}

// startDaemon starts the agent on a small repo with a webhook secret and
// waits until /healthz answers and the first cycle has run.
func startDaemon(t *testing.T) *daemon {
	d := &daemon{secret: "hook-secret-123", out: &syncBuffer{}}
	cfg, addr := webhookAgent(t, d.secret, "  interval: 1h\n")
	d.base = "http://" + addr
	d.cmd = exec.Command(relBinary(t), "agent", "--config", cfg)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = d.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = d.cmd.Process.Kill()
			<-done
			t.Errorf("the agent did not stop within 20s of SIGTERM")
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(filepath.Dir(cfg), "motd")); err == nil {
			if resp, err := http.Get(d.base + "/healthz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return d
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent did not come up within 30s:\n%s", d.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// scrape reads one series' value from /metrics.
func (d *daemon) scrape(t *testing.T, series string) float64 {
	t.Helper()
	resp, err := http.Get(d.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return metricValue(t, string(body), series)
}

// slowBody trickles a few bytes at a time (a slowloris body).
type slowBody struct {
	ctx  context.Context
	left int
}

func (s *slowBody) Read(p []byte) (int, error) {
	if s.left <= 0 {
		return 0, io.EOF
	}
	select {
	case <-s.ctx.Done():
		return 0, s.ctx.Err()
	case <-time.After(200 * time.Millisecond):
	}
	n := min(len(p), 8, s.left)
	for i := range n {
		p[i] = 'x'
	}
	s.left -= n
	return n, nil
}

// latencies collects probe latencies of one endpoint.
type latencies struct {
	mu     sync.Mutex
	d      []time.Duration
	errors []string
}

func (l *latencies) add(d time.Duration, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.errors = append(l.errors, err.Error())
		return
	}
	l.d = append(l.d, d)
}

func (l *latencies) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := slices.Clone(l.d)
	slices.Sort(d)
	if len(d) == 0 {
		return "no successful probe"
	}
	q := func(p float64) time.Duration { return d[min(len(d)-1, int(p*float64(len(d))))] }
	return fmt.Sprintf("%d probes: p50 %v, p99 %v, max %v", len(d), q(0.5), q(0.99), d[len(d)-1])
}

// TestLoadWebhookBurst fires ~5,000 bad webhook requests (wrong signatures,
// bodies over the 1 MiB limit, slowloris bodies, wrong methods) at the agent
// over ~10 s with bounded concurrency, probing /healthz and /metrics all the
// while. Every probe must answer 200; every bad hook must be refused; the
// goroutine count must come back to its baseline and RSS must not keep
// growing from the first half of the burst to the second.
func TestLoadWebhookBurst(t *testing.T) {
	d := startDaemon(t)
	total, workers, slowConns := 5000, 24, 40
	if soak() {
		total, workers, slowConns = 50000, 48, 200
	}
	baseG := d.scrape(t, "go_goroutines")
	baseRSS := d.scrape(t, "process_resident_memory_bytes")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hookTransport := &http.Transport{MaxIdleConnsPerHost: workers}
	client := &http.Client{Timeout: 15 * time.Second, Transport: hookTransport}
	probeClient := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

	// probes
	var health, metrics latencies
	var probes sync.WaitGroup
	for _, ep := range []struct {
		path string
		l    *latencies
	}{{"/healthz", &health}, {"/metrics", &metrics}} {
		probes.Add(1)
		go func() {
			defer probes.Done()
			for ctx.Err() == nil {
				start := time.Now()
				resp, err := probeClient.Get(d.base + ep.path)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != 200 {
						err = fmt.Errorf("%s: HTTP %d", ep.path, resp.StatusCode)
					}
				}
				ep.l.add(time.Since(start), err)
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}

	// slowloris: connections that trickle a body for a few seconds
	var slow sync.WaitGroup
	var slowDone atomic.Int64
	for range slowConns {
		slow.Add(1)
		go func() {
			defer slow.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, d.base+"/hooks/sync", &slowBody{ctx: ctx, left: 15 * 8})
				req.Header.Set("X-Hub-Signature-256", "sha256=00")
				req.ContentLength = 15 * 8
				if resp, err := client.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				slowDone.Add(1)
			}
		}()
	}

	// the burst, in two halves with an RSS sample between
	secret := []byte(d.secret)
	wrongMAC := func(body []byte) string {
		m := hmac.New(sha256.New, append([]byte("not-"), secret...))
		m.Write(body)
		return "sha256=" + hex.EncodeToString(m.Sum(nil))
	}
	huge := bytes.Repeat([]byte("A"), 1<<20+4096)
	var accepted, refused, transport atomic.Int64
	statuses := sync.Map{}
	burst := func(n int, seed uint64) time.Duration {
		start := time.Now()
		jobs := make(chan int)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(seed, uint64(w)))
				for range jobs {
					var req *http.Request
					switch k := rng.IntN(100); {
					case k < 5: // a body over the limit
						req, _ = http.NewRequest(http.MethodPost, d.base+"/hooks/sync", bytes.NewReader(huge))
						req.Header.Set("X-Hub-Signature-256", wrongMAC(huge))
					case k < 10: // wrong method
						req, _ = http.NewRequest(http.MethodGet, d.base+"/hooks/sync", nil)
					case k < 20: // garbage signature
						req, _ = http.NewRequest(http.MethodPost, d.base+"/hooks/sync", strings.NewReader(`{"ref":"refs/heads/main"}`))
						req.Header.Set("X-Hub-Signature-256", "sha256=zz"+strings.Repeat("9", rng.IntN(200)))
					case k < 25: // no signature at all
						req, _ = http.NewRequest(http.MethodPost, d.base+"/hooks/sync", strings.NewReader(`{}`))
					default: // a well-formed but wrong HMAC
						body := []byte(fmt.Sprintf(`{"ref":"refs/heads/main","n":%d}`, rng.IntN(1e9)))
						req, _ = http.NewRequest(http.MethodPost, d.base+"/hooks/sync", bytes.NewReader(body))
						req.Header.Set("X-Hub-Signature-256", wrongMAC(body))
					}
					resp, err := client.Do(req)
					if err != nil {
						transport.Add(1)
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					c, _ := statuses.LoadOrStore(resp.StatusCode, new(atomic.Int64))
					c.(*atomic.Int64).Add(1)
					if resp.StatusCode == http.StatusAccepted {
						accepted.Add(1)
					} else {
						refused.Add(1)
					}
				}
			}()
		}
		// pace: n requests over ~5 s
		tick := time.NewTicker(5 * time.Second / time.Duration(n))
		for i := range n {
			<-tick.C
			jobs <- i
		}
		tick.Stop()
		close(jobs)
		wg.Wait()
		return time.Since(start)
	}
	d1 := burst(total/2, 1)
	midRSS := d.scrape(t, "process_resident_memory_bytes")
	d2 := burst(total-total/2, 2)
	endRSS := d.scrape(t, "process_resident_memory_bytes")
	cancel()
	slow.Wait()
	probes.Wait()

	var codes []string
	statuses.Range(func(k, v any) bool {
		codes = append(codes, fmt.Sprintf("%v×%d", k, v.(*atomic.Int64).Load()))
		return true
	})
	slices.Sort(codes)
	t.Logf("burst: %d requests in %v + %v (%d workers, %d slowloris connections, %d slow requests): statuses %v, %d transport errors",
		total, d1.Round(time.Millisecond), d2.Round(time.Millisecond), workers, slowConns, slowDone.Load(), codes, transport.Load())
	t.Logf("/healthz during the burst: %s", health.summary())
	t.Logf("/metrics during the burst: %s", metrics.summary())
	if accepted.Load() > 0 {
		t.Errorf("%d bad webhook request(s) were accepted", accepted.Load())
	}
	if refused.Load()+transport.Load() != int64(total) {
		t.Errorf("%d refused + %d transport errors, want %d requests", refused.Load(), transport.Load(), total)
	}
	for _, l := range []*latencies{&health, &metrics} {
		if len(l.errors) > 0 {
			t.Errorf("%d probe(s) failed during the burst, e.g. %s", len(l.errors), l.errors[0])
		}
	}

	// Goroutines come back once our idle keep-alive connections (one server
	// goroutine each) and the slow connections are gone.
	hookTransport.CloseIdleConnections()
	var endG float64
	deadline := time.Now().Add(30 * time.Second)
	for {
		endG = d.scrape(t, "go_goroutines")
		if endG <= baseG+5 || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("goroutines %v before, %v after; RSS %.1f MiB before, %.1f MiB after half the burst, %.1f MiB at the end",
		baseG, endG, baseRSS/(1<<20), midRSS/(1<<20), endRSS/(1<<20))
	if endG > baseG+5 {
		t.Errorf("goroutines grew from %v to %v and did not come back within 30s", baseG, endG)
	}
	if endRSS > midRSS+64<<20 {
		t.Errorf("RSS kept growing: %.1f MiB after half the burst, %.1f MiB after all of it", midRSS/(1<<20), endRSS/(1<<20))
	}
	if endRSS > 512<<20 {
		t.Errorf("RSS %.1f MiB after the burst, want < 512 MiB", endRSS/(1<<20))
	}
	if strings.Contains(d.out.String(), "panic") {
		t.Errorf("the agent logged a panic:\n%s", relTail(d.out.String(), 3000))
	}
}

// peakRSS runs cmd to its end and returns its peak resident set (VmHWM, from
// the kernel's rusage of the child).
func peakRSS(t *testing.T, cmd *exec.Cmd) (int64, time.Duration) {
	t.Helper()
	d := mustRun(t, cmd)
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Fatal("no rusage for the child")
	}
	return ru.Maxrss << 10, d // Linux reports KiB
}

// TestLoadBigPlaybook runs a 10,000-task playbook through `tend playbook`
// and reports its peak RSS (bound: 1 GiB).
func TestLoadBigPlaybook(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("- hosts: all\n  gather_facts: false\n  tasks:\n")
	const n = 10000
	for i := range n {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "    - name: fact %d\n      set_fact:\n        v%d: \"{{ %d * 2 }}\"\n", i, i%50, i)
		case 1:
			fmt.Fprintf(&b, "    - name: stat %d\n      stat:\n        path: %s\n      register: st\n", i, dir)
		case 2:
			fmt.Fprintf(&b, "    - name: assert %d\n      assert:\n        that: st.stat.isdir\n        quiet: true\n", i)
		default:
			fmt.Fprintf(&b, "    - name: debug %d\n      debug:\n        msg: \"{{ v%d | default(0) }}\"\n", i, (i-3)%50)
		}
	}
	pb := filepath.Join(dir, "big.yml")
	if err := os.WriteFile(pb, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(relBinary(t), "playbook", "-c", "local", "-i", "localhost,", "-o", "json", pb)
	cmd.Dir = dir
	rss, d := peakRSS(t, cmd)
	t.Logf("%d tasks (%d KiB of YAML): peak RSS %.1f MiB, %v", n, b.Len()>>10, float64(rss)/(1<<20), d.Round(time.Millisecond))
	if rss > 1<<30 {
		t.Errorf("peak RSS %.1f MiB for %d tasks, want < 1 GiB", float64(rss)/(1<<20), n)
	}
}

// TestLoadBigTemplate renders a 10 MiB template (100,000 lines, each with an
// expression) through the template module and reports peak RSS (bound 1 GiB).
func TestLoadBigTemplate(t *testing.T) {
	dir := t.TempDir()
	var b, want strings.Builder
	xs := strings.Repeat("x", 60)
	for i := 0; b.Len() < 10<<20; i++ {
		fmt.Fprintf(&b, "line %06d {{ greeting }} {{ %d + 1 }} %s\n", i, i, xs)
		fmt.Fprintf(&want, "line %06d hello %d %s\n", i, i+1, xs)
	}
	src := filepath.Join(dir, "big.j2")
	if err := os.WriteFile(src, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(dir, "big.out")
	pb := filepath.Join(dir, "site.yml")
	if err := os.WriteFile(pb, []byte(fmt.Sprintf(`- hosts: all
  gather_facts: false
  vars:
    greeting: hello
  tasks:
    - template: {src: %q, dest: %q}
`, src, dest)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(relBinary(t), "playbook", "-c", "local", "-i", "localhost,", pb)
	cmd.Dir = dir
	rss, d := peakRSS(t, cmd)
	out, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != want.String() {
		t.Fatalf("rendered %d bytes starting %q, want %d bytes starting %q", len(out), out[:min(len(out), 40)],
			want.Len(), want.String()[:40])
	}
	t.Logf("10 MiB template (%d bytes in, %d out): peak RSS %.1f MiB, %v", b.Len(), len(out), float64(rss)/(1<<20), d.Round(time.Millisecond))
	if rss > 1<<30 {
		t.Errorf("peak RSS %.1f MiB for a 10 MiB template, want < 1 GiB", float64(rss)/(1<<20))
	}
}
