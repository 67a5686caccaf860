package template

import (
	"math"
	"math/big"
	"sync"
)

// Python's math.log and math.pow call glibc, whose results are correctly
// rounded in practice (pow misrounds about one in 500); Go's math.Log and
// math.Pow are often one unit in the last place off, and math.Log10(1000)
// is 2.9999999999999996. These compute in 192-bit floats and round once, so
// the log, pow and root filters print the digits Ansible prints.

const mathPrec = 192

var (
	bigLn2Once sync.Once
	bigLn2     *big.Float
)

func newBig() *big.Float { return new(big.Float).SetPrec(mathPrec) }

// bigAtanhSeries is 2*atanh(s) = log((1+s)/(1-s)) for small |s|.
func bigAtanhSeries(s *big.Float) *big.Float {
	s2 := newBig().Mul(s, s)
	sum := newBig().Set(s)
	term := newBig().Set(s)
	t := newBig()
	for k := int64(3); ; k += 2 {
		term.Mul(term, s2)
		t.Quo(term, newBig().SetInt64(k))
		if t.Sign() == 0 || t.MantExp(nil) < sum.MantExp(nil)-mathPrec-8 {
			break
		}
		sum.Add(sum, t)
	}
	return sum.Mul(sum, newBig().SetInt64(2))
}

func lnConstants() {
	bigLn2Once.Do(func() {
		third := newBig().Quo(newBig().SetInt64(1), newBig().SetInt64(3))
		bigLn2 = bigAtanhSeries(third) // log 2 = 2*atanh(1/3)
	})
}

// bigLog is the natural logarithm of a positive finite x.
func bigLog(x float64) *big.Float {
	lnConstants()
	m, e := math.Frexp(x)
	if m < math.Sqrt2/2 {
		m, e = m*2, e-1
	}
	bm := newBig().SetFloat64(m)
	one := newBig().SetInt64(1)
	s := newBig().Quo(newBig().Sub(bm, one), newBig().Add(bm, one))
	r := bigAtanhSeries(s)
	return r.Add(r, newBig().Mul(newBig().SetInt64(int64(e)), bigLn2))
}

// bigExp is e**z rounded to a float64 (±Inf on overflow).
func bigExp(z *big.Float) float64 {
	lnConstants()
	kf, _ := newBig().Quo(z, bigLn2).Float64()
	if kf > 2000 {
		return math.Inf(1)
	}
	if kf < -2000 {
		return 0
	}
	k := math.Round(kf)
	r := newBig().Sub(z, newBig().Mul(newBig().SetFloat64(k), bigLn2))
	sum := newBig().SetInt64(1)
	term := newBig().SetInt64(1)
	for n := int64(1); ; n++ {
		term.Mul(term, r)
		term.Quo(term, newBig().SetInt64(n))
		if term.Sign() == 0 || term.MantExp(nil) < -mathPrec-8 {
			break
		}
		sum.Add(sum, term)
	}
	sum.SetMantExp(sum, int(k))
	f, _ := sum.Float64()
	return f
}

// pyLog is math.log(x).
func pyLog(x float64) float64 {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 1):
		return x
	case x <= 0:
		fail("math domain error")
	}
	f, _ := bigLog(x).Float64()
	return f
}

// pyLog10 is math.log10(x) as glibc computes it (its e_log10.c, from
// fdlibm): not correctly rounded, but built on the correctly rounded log.
func pyLog10(x float64) float64 {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 1):
		return x
	case x <= 0:
		fail("math domain error")
	}
	const (
		ivln10    = 4.34294481903251816668e-01
		log10_2hi = 3.01029995663611771306e-01
		log10_2lo = 3.69423907715893078616e-13
	)
	frac, exp := math.Frexp(x) // x = frac * 2**exp, frac in [0.5, 1)
	k := exp - 1               // x = (2*frac) * 2**k
	m := frac * 2
	if k < 0 {
		m, k = frac, k+1 // glibc keeps a negative exponent's mantissa in [0.5, 1)
	}
	y := float64(k)
	z := float64(y*log10_2lo) + float64(ivln10*pyLog(m))
	return z + float64(y*log10_2hi)
}

// pyPow is math.pow(x, y), with Python's errors.
func pyPow(x, y float64) float64 {
	if math.IsNaN(x) || math.IsNaN(y) || math.IsInf(x, 0) || math.IsInf(y, 0) {
		return math.Pow(x, y) // the IEEE special cases, as Python's own code has them
	}
	yInt := y == math.Trunc(y)
	oddY := yInt && math.Mod(math.Abs(y), 2) == 1
	switch {
	case y == 0 || x == 1:
		return 1
	case x == 0:
		if y < 0 {
			fail("math domain error")
		}
		if oddY {
			return x
		}
		return 0
	case x < 0 && !yInt:
		fail("math domain error")
	}
	r := bigExp(newBig().Mul(newBig().SetFloat64(y), bigLog(math.Abs(x))))
	if math.IsInf(r, 0) {
		fail("math range error")
	}
	if x < 0 && oddY {
		r = -r
	}
	return r
}
