package drift

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// manyFiles makes n small managed files in 100 directories and indexes them.
func manyFiles(b *testing.B, n int) (string, *Index) {
	b.Helper()
	dir := b.TempDir()
	targets := make([]Target, 0, n)
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("d%02d", i%100), fmt.Sprintf("f%05d.conf", i))
		if i < 100 {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				b.Fatal(err)
			}
		}
		if err := os.WriteFile(p, fmt.Appendf(nil, "key = %d\n# managed by tend\n", i), 0o644); err != nil {
			b.Fatal(err)
		}
		targets = append(targets, Target{Path: p, Content: true})
	}
	x, fails := Build("", targets, nil, time.Now())
	if len(fails) > 0 {
		b.Fatal(fails[0])
	}
	return dir, x
}

// BenchmarkCheck10k is the watcher's check over 10,000 managed files: stat
// everything, hash what changed (here: one edited file). Target: < 300 ms.
func BenchmarkCheck10k(b *testing.B) {
	dir, x := manyFiles(b, 10000)
	edited := filepath.Join(dir, "d07", "f00007.conf")
	if err := os.WriteFile(edited, []byte("key = tampered\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	x.Check(context.Background(), false) // warm
	b.ResetTimer()
	for b.Loop() {
		r := x.Check(context.Background(), false)
		if len(r.Drifted) != 1 || r.Checked != 10000 {
			b.Fatalf("drifted %d checked %d", len(r.Drifted), r.Checked)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/check")
}

// BenchmarkFullHash10k is the periodic full hash over the same files.
func BenchmarkFullHash10k(b *testing.B) {
	_, x := manyFiles(b, 10000)
	x.Check(context.Background(), true)
	b.ResetTimer()
	for b.Loop() {
		if r := x.Check(context.Background(), true); r.Hashed != 10000 || len(r.Drifted) != 0 {
			b.Fatalf("hashed %d drifted %d", r.Hashed, len(r.Drifted))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/check")
}

// BenchmarkBuild10k is recording the index after an apply.
func BenchmarkBuild10k(b *testing.B) {
	_, x := manyFiles(b, 10000)
	targets := make([]Target, 0, x.Len())
	for _, e := range x.Entries {
		targets = append(targets, Target{Path: e.Path, Content: true})
	}
	b.ResetTimer()
	for b.Loop() {
		Build("", targets, nil, time.Now())
	}
}

// BenchmarkCheckDir indexes every regular file under $DRIFT_BENCH_DIR (set
// by bench/drift.sh, which manages the same files with a playbook) and
// measures the warm stat-only check and the full hash over them.
func BenchmarkCheckDir(b *testing.B) {
	dir := os.Getenv("DRIFT_BENCH_DIR")
	if dir == "" {
		b.Skip("DRIFT_BENCH_DIR not set (bench/drift.sh sets it)")
	}
	var targets []Target
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			targets = append(targets, Target{Path: p, Content: true})
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	x, fails := Build("", targets, nil, time.Now())
	if len(fails) > 0 {
		b.Fatal(fails[0])
	}
	for _, full := range []bool{false, true} {
		name := "stat"
		if full {
			name = "fullhash"
		}
		b.Run(fmt.Sprintf("%s/files=%d", name, len(targets)), func(b *testing.B) {
			x.Check(context.Background(), full) // warm
			for b.Loop() {
				if r := x.Check(context.Background(), full); len(r.Drifted) != 0 || r.Checked != len(targets) {
					b.Fatalf("drifted %d checked %d", len(r.Drifted), r.Checked)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/check")
		})
	}
}
