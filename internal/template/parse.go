package template

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// The template is lexed by gonja's lexer (delimiters, whitespace control,
// trim_blocks, raw blocks) and parsed here into a small AST that this
// package evaluates itself: gonja's evaluator sorts dicts, parses test
// keyword arguments wrongly and differs from Jinja2 in many small ways
// (see FACTS.md), so only its lexer is used.

type expr interface{}

type (
	litExpr  struct{ v any }
	nameExpr struct{ name string }
	attrExpr struct {
		x    expr
		name string
	}
	itemExpr  struct{ x, idx expr }
	sliceExpr struct{ x, lo, hi, step expr }
	kwArg     struct {
		name string
		v    expr
	}
	callExpr struct {
		fn     expr
		args   []expr
		kwargs []kwArg
	}
	filterExpr struct {
		x      expr
		name   string
		args   []expr
		kwargs []kwArg
	}
	testExpr struct {
		x      expr
		name   string
		args   []expr
		kwargs []kwArg
		neg    bool
	}
	binExpr struct {
		op   string
		l, r expr
	}
	unaryExpr struct {
		op string
		x  expr
	}
	listExpr  struct{ items []expr }
	tupleExpr struct{ items []expr }
	dictExpr  struct{ keys, vals []expr }
	condExpr  struct{ a, cond, b expr }
)

type node interface{}

type (
	textNode struct{ s string }
	outNode  struct{ x expr }
	ifNode   struct {
		conds  []expr
		bodies [][]node
		els    []node
	}
	forNode struct {
		targets   []string
		iter      expr
		filter    expr
		body, els []node
		recursive bool
	}
	setNode struct {
		targets []string
		attr    string // {% set ns.attr = %}
		x       expr
		body    []node
	}
	includeNode struct {
		x             expr
		ignoreMissing bool
	}
	// importNode is {% import 'f' as name %} (as != "") or
	// {% from 'f' import a, b as c %} (names/aliases).
	importNode struct {
		x              expr
		as             string
		names, aliases []string
	}
	macroNode struct {
		name     string
		params   []string
		defaults []expr
		body     []node
	}
	withNode struct {
		names []string
		vals  []expr
		body  []node
	}
	filterBlockNode struct {
		f    *filterExpr
		body []node
	}
	// blockNode is {% block name [scoped] [required] %}.
	blockNode struct {
		name   string
		body   []node
		scoped bool
	}
	extendsNode struct{ x expr }
)

// parsed is a parsed template.
type parsed struct {
	nodes []node
	// trailingNL is the number of newlines the source ends with: Jinja2
	// drops one, and Ansible's templar adds back what is missing
	// (preserve_trailing_newlines) for top-level templates, not includes.
	trailingNL int
	// size is the source's length, the first guess for the output's
	size int
	// blocks are the template's {% block %}s by name, nested ones too
	blocks map[string]*blockNode
}

// restoreNewlines appends the trailing newlines Jinja2 dropped.
func (p *parsed) restoreNewlines(s string) string {
	have := len(s) - len(strings.TrimRight(s, "\n"))
	if p.trailingNL > have {
		s += strings.Repeat("\n", p.trailingNL-have)
	}
	return s
}

var lexConfig = func() *config.Config {
	c := config.New()
	c.TrimBlocks = true
	c.KeepTrailingNewline = false
	return c
}()

type parser struct {
	toks *tokSource
	pos  int
	src  string
	// rawStrings keeps backslashes in string literals inside {{ }} as
	// written: Ansible's templar doubles them before Jinja2 sees them
	// (_escape_backslashes), except for template files.
	rawStrings bool
	inVar      bool
	blocks     map[string]*blockNode
}

type SyntaxError struct {
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("template error while templating string: %s (line %d)", e.Msg, e.Line)
	}
	return "template error while templating string: " + e.Msg
}

// streamLexAbove is the source size from which a template is lexed by
// gonja's channel lexer while it is parsed, instead of all at once:
// LexAll reserves a slab of len(src)/3 tokens up front (64 bytes each, so
// ~200 MiB for a 10 MiB template) and keeps every token until the parse
// ends; the stream keeps only a window of them (see tokSource), at the
// price of a goroutine hand-off per token.
var streamLexAbove = 1 << 20 // a var for FuzzTemplateStreamed

// tokSource hands the parser its tokens: a slice for small sources, a
// window over the lexer's channel for big ones. Whitespace tokens are
// dropped: gonja emits them only inside tags, where the parser skips them.
type tokSource struct {
	buf  []*tokens.Token // tokens base, base+1, ...
	base int
	// more yields the next token, nil when there is none; nil for a
	// slice source
	more func() *tokens.Token
	last *tokens.Token // the EOF, once seen
	stop func()        // lets the lexer goroutine end; nil for slices
	src  string        // for the line of a lexer error
}

func newTokSource(src string, cfg *config.Config) (*tokSource, error) {
	if len(src) > streamLexAbove {
		return streamTokens(src, cfg), nil
	}
	toks, err := lexAll(src, cfg)
	if err != nil {
		return nil, err
	}
	return &tokSource{buf: toks, last: toks[len(toks)-1]}, nil
}

// at returns token i, the EOF past the end. Lexer errors in a stream
// surface here, as a SyntaxError panic the parser turns into its error.
func (ts *tokSource) at(i int) *tokens.Token {
	for i-ts.base >= len(ts.buf) && ts.last == nil {
		t := ts.more()
		switch {
		case t == nil:
			t = &tokens.Token{Type: tokens.EOF}
		case t.Type == tokens.Error:
			panic(lexError(ts.src, t))
		case t.Type == tokens.Whitespace:
			continue
		}
		if t.Type == tokens.EOF {
			ts.last = t
		}
		ts.buf = append(ts.buf, t)
	}
	if i-ts.base >= len(ts.buf) {
		return ts.last
	}
	return ts.buf[i-ts.base]
}

// release forgets tokens before keep, for a stream: the parser looks back
// at most one token.
func (ts *tokSource) release(keep int) {
	if ts.more == nil || keep-ts.base < 4096 {
		return
	}
	n := copy(ts.buf, ts.buf[keep-ts.base:])
	clear(ts.buf[n:])
	ts.buf = ts.buf[:n]
	ts.base = keep
}

// streamTokens starts gonja's channel lexer on src. A panic in the lexer
// goroutine becomes a SyntaxError like in lexAll; stop drains what the
// lexer still sends so that it can end.
func streamTokens(src string, cfg *config.Config) *tokSource {
	l := tokens.NewLexer(src, cfg)
	panicked := make(chan any, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				panicked <- r
			}
		}()
		l.Run()
	}()
	ts := &tokSource{src: src}
	ts.more = func() *tokens.Token {
		select {
		case r := <-panicked:
			panic(&SyntaxError{Msg: fmt.Sprint(r)})
		case t := <-l.Tokens:
			return t
		}
	}
	ts.stop = func() {
		go func() {
			for range l.Tokens {
			}
		}()
	}
	return ts
}

// lexError is gonja's error token as a SyntaxError; gonja sets only the
// byte offset of its errors, so the line is counted here.
func lexError(src string, t *tokens.Token) *SyntaxError {
	line := t.Line
	if line == 0 && t.Pos > 0 && t.Pos <= len(src) {
		line = strings.Count(src[:t.Pos], "\n") + 1
	}
	return &SyntaxError{Line: line, Msg: t.Val}
}

func lexAll(src string, cfg *config.Config) (toks []*tokens.Token, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &SyntaxError{Msg: fmt.Sprint(r)}
		}
	}()
	st := tokens.LexAll(src, cfg)
	for {
		t := st.Current()
		if t == nil {
			break
		}
		if t.Type == tokens.Error {
			return nil, lexError(src, t)
		}
		if t.Type != tokens.Whitespace {
			toks = append(toks, t)
		}
		if t.Type == tokens.EOF {
			break
		}
		st.Next()
	}
	if len(toks) == 0 || toks[len(toks)-1].Type != tokens.EOF {
		toks = append(toks, &tokens.Token{Type: tokens.EOF})
	}
	return toks, nil
}

func parseTemplate(src string, rawStrings bool) (p *parsed, err error) {
	return parseTemplateWith(src, rawStrings, lexConfig)
}

// parseTemplateWith parses src lexed with cfg's delimiters and block
// whitespace settings.
func parseTemplateWith(src string, rawStrings bool, cfg *config.Config) (p *parsed, err error) {
	ts, err := newTokSource(src, cfg)
	if err != nil {
		return nil, err
	}
	if ts.stop != nil {
		defer ts.stop()
	}
	ps := &parser{toks: ts, src: src, rawStrings: rawStrings && strings.Contains(src, "{{")}
	defer func() {
		if r := recover(); r != nil {
			if se, ok := r.(*SyntaxError); ok {
				err = se
				return
			}
			err = &SyntaxError{Msg: fmt.Sprint(r)}
		}
	}()
	nodes, end := ps.parseBody()
	if end != "" {
		ps.fail("unexpected '%s'", end)
	}
	return &parsed{nodes: nodes, trailingNL: len(src) - len(strings.TrimRight(src, "\n")), size: len(src), blocks: ps.blocks}, nil
}

// parseExprString parses a bare expression (when:, that:).
func parseExprString(src string) (x expr, err error) {
	toks, err := lexAll("{{ "+src+" }}", lexConfig)
	if err != nil {
		return nil, err
	}
	ps := &parser{toks: &tokSource{buf: toks, last: toks[len(toks)-1]}, src: src}
	defer func() {
		if r := recover(); r != nil {
			if se, ok := r.(*SyntaxError); ok {
				err = se
				return
			}
			err = &SyntaxError{Msg: fmt.Sprint(r)}
		}
	}()
	if ps.cur().Type != tokens.VariableBegin {
		ps.fail("expected an expression")
	}
	ps.pos++
	x = ps.parseExpr()
	if ps.cur().Type != tokens.VariableEnd {
		ps.fail("unexpected '%s'", ps.cur().Val)
	}
	ps.pos++
	if ps.cur().Type != tokens.EOF {
		ps.fail("unexpected text after expression")
	}
	return x, nil
}

func (p *parser) fail(format string, args ...any) {
	line := 0
	if t := p.cur(); t != nil {
		line = t.Line
	}
	panic(&SyntaxError{Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) cur() *tokens.Token {
	return p.toks.at(p.pos)
}

func (p *parser) peekAt(n int) *tokens.Token {
	return p.toks.at(p.pos + n)
}

func (p *parser) next() *tokens.Token {
	t := p.cur()
	p.pos++
	return t
}

func (p *parser) accept(tt tokens.Type) bool {
	if p.cur().Type == tt {
		p.pos++
		return true
	}
	return false
}

func (p *parser) expect(tt tokens.Type, what string) *tokens.Token {
	t := p.cur()
	if t.Type != tt {
		p.fail("expected %s, got '%s'", what, t.Val)
	}
	p.pos++
	return t
}

func (p *parser) isName(name string) bool {
	t := p.cur()
	return t.Type == tokens.Name && t.Val == name
}

func (p *parser) acceptName(name string) bool {
	if p.isName(name) {
		p.pos++
		return true
	}
	return false
}

// trimRight reports whether the token that opens after data asks to strip it.
func wantsTrimRight(t *tokens.Token) bool {
	return strings.HasSuffix(t.Val, "-") &&
		(t.Type == tokens.VariableBegin || t.Type == tokens.BlockBegin || t.Type == tokens.CommentBegin)
}

func wantsTrimLeft(t *tokens.Token) bool {
	return strings.HasPrefix(t.Val, "-") &&
		(t.Type == tokens.VariableEnd || t.Type == tokens.BlockEnd || t.Type == tokens.CommentEnd)
}

// parseBody parses nodes until an end tag (endif, else, ...) or EOF and
// returns the name of the tag that stopped it ("" at EOF). The stopping
// tag's name has been consumed; its arguments have not.
func (p *parser) parseBody() ([]node, string) {
	var out []node
	for {
		p.toks.release(p.pos - 1)
		t := p.cur()
		switch t.Type {
		case tokens.EOF:
			return out, ""
		case tokens.Data:
			s := t.Val
			if p.pos > 0 && wantsTrimLeft(p.toks.at(p.pos-1)) {
				s = strings.TrimLeft(s, " \t\n\r")
			}
			if wantsTrimRight(p.toks.at(p.pos + 1)) {
				s = strings.TrimRight(s, " \t\n\r")
			}
			p.pos++
			if s != "" {
				out = append(out, &textNode{s})
			}
		case tokens.CommentBegin:
			for t := p.cur(); t.Type != tokens.CommentEnd && t.Type != tokens.EOF; t = p.cur() {
				p.pos++
			}
			p.expect(tokens.CommentEnd, "end of comment")
		case tokens.VariableBegin:
			p.pos++
			p.inVar = true
			x := p.parseExpr()
			p.inVar = false
			p.expect(tokens.VariableEnd, "end of print statement '}}'")
			out = append(out, &outNode{x})
		case tokens.BlockBegin:
			p.pos++
			name := p.expect(tokens.Name, "statement name").Val
			switch name {
			case "endif", "else", "elif", "endfor", "endset", "endmacro", "endwith", "endfilter", "endraw", "endcall", "endblock":
				return out, name
			}
			out = append(out, p.parseStatement(name))
		default:
			p.fail("unexpected '%s'", t.Val)
		}
	}
}

func (p *parser) endBlock() {
	p.expect(tokens.BlockEnd, "end of statement '%}'")
}

func (p *parser) parseStatement(name string) node {
	switch name {
	case "if":
		n := &ifNode{}
		cond := p.parseExpr()
		p.endBlock()
		for {
			body, end := p.parseBody()
			switch end {
			case "elif":
				n.conds = append(n.conds, cond)
				n.bodies = append(n.bodies, body)
				cond = p.parseExpr()
				p.endBlock()
				continue
			case "else":
				n.conds = append(n.conds, cond)
				n.bodies = append(n.bodies, body)
				p.endBlock()
				els, end2 := p.parseBody()
				if end2 != "endif" {
					p.fail("expected endif, got '%s'", end2)
				}
				n.els = els
			case "endif":
				n.conds = append(n.conds, cond)
				n.bodies = append(n.bodies, body)
			default:
				p.fail("unexpected end of template, expected 'endif'")
			}
			p.endBlock()
			return n
		}
	case "for":
		n := &forNode{}
		for {
			n.targets = append(n.targets, p.expect(tokens.Name, "loop variable").Val)
			if !p.accept(tokens.Comma) {
				break
			}
		}
		p.expect(tokens.In, "'in'")
		n.iter = p.parseOr(true)
		if p.acceptName("if") {
			n.filter = p.parseOr(false)
		}
		if p.acceptName("recursive") {
			n.recursive = true
		}
		p.endBlock()
		body, end := p.parseBody()
		n.body = body
		if end == "else" {
			p.endBlock()
			n.els, end = p.parseBody()
		}
		if end != "endfor" {
			p.fail("unexpected end of template, expected 'endfor'")
		}
		p.endBlock()
		return n
	case "set":
		n := &setNode{}
		for {
			n.targets = append(n.targets, p.expect(tokens.Name, "variable name").Val)
			if p.accept(tokens.Dot) {
				n.attr = p.expect(tokens.Name, "attribute").Val
			}
			if !p.accept(tokens.Comma) {
				break
			}
		}
		if p.accept(tokens.Assign) {
			n.x = p.parseTupleExpr()
			p.endBlock()
			return n
		}
		p.endBlock()
		body, end := p.parseBody()
		if end != "endset" {
			p.fail("expected endset")
		}
		p.endBlock()
		n.body = body
		return n
	case "include":
		n := &includeNode{x: p.parseExpr()}
		if p.acceptName("ignore") {
			if !p.acceptName("missing") {
				p.fail("expected 'missing'")
			}
			n.ignoreMissing = true
		}
		if p.acceptName("with") || p.acceptName("without") {
			p.acceptName("context")
		}
		p.endBlock()
		return n
	case "import":
		n := &importNode{x: p.parseExpr()}
		if !p.acceptName("as") {
			p.fail("expected 'as' in import")
		}
		n.as = p.expect(tokens.Name, "name").Val
		if p.acceptName("with") || p.acceptName("without") {
			p.acceptName("context")
		}
		p.endBlock()
		return n
	case "from":
		n := &importNode{x: p.parseExpr()}
		if !p.acceptName("import") {
			p.fail("expected 'import'")
		}
		for p.cur().Type == tokens.Name && !p.isName("with") && !p.isName("without") {
			name := p.next().Val
			alias := name
			if p.acceptName("as") {
				alias = p.expect(tokens.Name, "alias").Val
			}
			n.names = append(n.names, name)
			n.aliases = append(n.aliases, alias)
			if !p.accept(tokens.Comma) {
				break
			}
		}
		if p.acceptName("with") || p.acceptName("without") {
			p.acceptName("context")
		}
		p.endBlock()
		return n
	case "block":
		n := &blockNode{name: p.expect(tokens.Name, "block name").Val}
		for p.acceptName("scoped") || p.acceptName("required") {
			if p.toks.at(p.pos-1).Val == "scoped" {
				n.scoped = true
			}
		}
		p.endBlock()
		if _, dup := p.blocks[n.name]; dup {
			p.fail("block '%s' defined twice", n.name)
		}
		if p.blocks == nil {
			p.blocks = map[string]*blockNode{}
		}
		p.blocks[n.name] = n
		body, end := p.parseBody()
		if end != "endblock" {
			p.fail("unexpected end of template, expected 'endblock'")
		}
		if t := p.cur(); t.Type == tokens.Name {
			if t.Val != n.name {
				p.fail("mismatching name in endblock: '%s' (block '%s')", t.Val, n.name)
			}
			p.pos++
		}
		p.endBlock()
		n.body = body
		return n
	case "extends":
		n := &extendsNode{x: p.parseExpr()}
		p.endBlock()
		return n
	case "macro":
		n := &macroNode{name: p.expect(tokens.Name, "macro name").Val}
		p.expect(tokens.LeftParenthesis, "'('")
		for !p.accept(tokens.RightParenthesis) {
			n.params = append(n.params, p.expect(tokens.Name, "parameter").Val)
			var def expr
			if p.accept(tokens.Assign) {
				def = p.parseExpr()
			}
			n.defaults = append(n.defaults, def)
			if !p.accept(tokens.Comma) && p.cur().Type != tokens.RightParenthesis {
				p.fail("expected ',' or ')'")
			}
		}
		p.endBlock()
		body, end := p.parseBody()
		if end != "endmacro" {
			p.fail("expected endmacro")
		}
		p.endBlock()
		n.body = body
		return n
	case "raw":
		p.endBlock()
		var b strings.Builder
		for p.cur().Type == tokens.Data {
			b.WriteString(p.next().Val)
		}
		p.expect(tokens.BlockBegin, "endraw")
		if !p.acceptName("endraw") {
			p.fail("expected endraw")
		}
		p.endBlock()
		return &textNode{b.String()}
	case "with":
		n := &withNode{}
		for p.cur().Type == tokens.Name {
			n.names = append(n.names, p.next().Val)
			p.expect(tokens.Assign, "'='")
			n.vals = append(n.vals, p.parseExpr())
			if !p.accept(tokens.Comma) {
				break
			}
		}
		p.endBlock()
		body, end := p.parseBody()
		if end != "endwith" {
			p.fail("expected endwith")
		}
		p.endBlock()
		n.body = body
		return n
	case "filter":
		f := p.parseFilterCall(nil)
		p.endBlock()
		body, end := p.parseBody()
		if end != "endfilter" {
			p.fail("expected endfilter")
		}
		p.endBlock()
		return &filterBlockNode{f: f, body: body}
	case "break", "continue":
		// jinja2.ext.loopcontrols is not enabled in Ansible.
		p.fail("encountered unknown tag '%s'", name)
	}
	p.fail("encountered unknown tag '%s'", name)
	return nil
}

// parseTupleExpr parses "a, b" as a tuple (for set).
func (p *parser) parseTupleExpr() expr {
	x := p.parseExpr()
	if p.cur().Type != tokens.Comma {
		return x
	}
	items := []expr{x}
	for p.accept(tokens.Comma) {
		if p.cur().Type == tokens.BlockEnd {
			break
		}
		items = append(items, p.parseExpr())
	}
	return &tupleExpr{items}
}

func (p *parser) parseExpr() expr {
	x := p.parseOr(true)
	if p.isName("if") {
		p.pos++
		cond := p.parseOr(true)
		var alt expr
		if p.acceptName("else") {
			alt = p.parseExpr()
		}
		return &condExpr{a: x, cond: cond, b: alt}
	}
	return x
}

func (p *parser) parseOr(_ bool) expr {
	x := p.parseAnd()
	for p.accept(tokens.Or) {
		x = &binExpr{op: "or", l: x, r: p.parseAnd()}
	}
	return x
}

func (p *parser) parseAnd() expr {
	x := p.parseNot()
	for p.accept(tokens.And) {
		x = &binExpr{op: "and", l: x, r: p.parseNot()}
	}
	return x
}

func (p *parser) parseNot() expr {
	if p.cur().Type == tokens.Not {
		p.pos++
		return &unaryExpr{op: "not", x: p.parseNot()}
	}
	return p.parseCompare()
}

func (p *parser) parseCompare() expr {
	x := p.parseMath1()
	for {
		t := p.cur()
		var op string
		switch t.Type {
		case tokens.Equals:
			op = "=="
		case tokens.Ne:
			op = "!="
		case tokens.LowerThan:
			op = "<"
		case tokens.LowerThanOrEqual:
			op = "<="
		case tokens.GreaterThan:
			op = ">"
		case tokens.GreaterThanOrEqual:
			op = ">="
		case tokens.In:
			op = "in"
		case tokens.Not:
			if p.peekAt(1).Type == tokens.In {
				p.pos++
				op = "not in"
			}
		}
		if op == "" {
			return x
		}
		p.pos++
		x = &binExpr{op: op, l: x, r: p.parseMath1()}
	}
}

func (p *parser) parseMath1() expr {
	x := p.parseConcat()
	for {
		switch p.cur().Type {
		case tokens.Addition:
			p.pos++
			x = &binExpr{op: "+", l: x, r: p.parseConcat()}
		case tokens.Subtraction:
			p.pos++
			x = &binExpr{op: "-", l: x, r: p.parseConcat()}
		default:
			return x
		}
	}
}

func (p *parser) parseConcat() expr {
	x := p.parseMath2()
	for p.accept(tokens.Tilde) {
		x = &binExpr{op: "~", l: x, r: p.parseMath2()}
	}
	return x
}

func (p *parser) parseMath2() expr {
	x := p.parsePow()
	for {
		var op string
		switch p.cur().Type {
		case tokens.Multiply:
			op = "*"
		case tokens.Division:
			op = "/"
		case tokens.FloorDivision:
			op = "//"
		case tokens.Modulo:
			op = "%"
		default:
			return x
		}
		p.pos++
		x = &binExpr{op: op, l: x, r: p.parsePow()}
	}
}

func (p *parser) parsePow() expr {
	x := p.parseUnary(true)
	for p.accept(tokens.Power) {
		x = &binExpr{op: "**", l: x, r: p.parseUnary(true)}
	}
	return x
}

func (p *parser) parseUnary(withFilter bool) expr {
	var x expr
	switch p.cur().Type {
	case tokens.Subtraction:
		p.pos++
		x = &unaryExpr{op: "-", x: p.parseUnary(false)}
	case tokens.Addition:
		p.pos++
		x = &unaryExpr{op: "+", x: p.parseUnary(false)}
	default:
		x = p.parsePostfix(p.parsePrimary())
	}
	if withFilter {
		x = p.parseFilterTests(x)
	}
	return x
}

func (p *parser) parsePrimary() expr {
	t := p.cur()
	switch t.Type {
	case tokens.Name:
		p.pos++
		switch t.Val {
		case "true", "True":
			return &litExpr{true}
		case "false", "False":
			return &litExpr{false}
		case "none", "None":
			return &litExpr{nil}
		}
		return &nameExpr{t.Val}
	case tokens.String:
		p.pos++
		unescape := pyUnescape
		if p.rawStrings && p.inVar {
			unescape = func(s string) string { return s }
		}
		s := unescape(t.Val)
		for p.cur().Type == tokens.String {
			s += unescape(p.next().Val)
		}
		return &litExpr{s}
	case tokens.Integer:
		p.pos++
		i, err := strconv.ParseInt(strings.ReplaceAll(t.Val, "_", ""), 0, 64)
		if err != nil {
			p.fail("bad integer %s", t.Val)
		}
		return &litExpr{int(i)}
	case tokens.Float:
		p.pos++
		f, err := strconv.ParseFloat(strings.ReplaceAll(t.Val, "_", ""), 64)
		if err != nil {
			p.fail("bad float %s", t.Val)
		}
		return &litExpr{f}
	case tokens.LeftParenthesis:
		p.pos++
		if p.accept(tokens.RightParenthesis) {
			return &tupleExpr{}
		}
		x := p.parseExpr()
		if p.cur().Type == tokens.Comma {
			items := []expr{x}
			for p.accept(tokens.Comma) {
				if p.cur().Type == tokens.RightParenthesis {
					break
				}
				items = append(items, p.parseExpr())
			}
			x = &tupleExpr{items}
		}
		p.expect(tokens.RightParenthesis, "')'")
		return x
	case tokens.LeftBracket:
		p.pos++
		l := &listExpr{}
		for !p.accept(tokens.RightBracket) {
			l.items = append(l.items, p.parseExpr())
			if !p.accept(tokens.Comma) {
				p.expect(tokens.RightBracket, "']'")
				break
			}
		}
		return l
	case tokens.LeftBrace:
		p.pos++
		d := &dictExpr{}
		for !p.accept(tokens.RightBrace) {
			d.keys = append(d.keys, p.parseExpr())
			p.expect(tokens.Colon, "':'")
			d.vals = append(d.vals, p.parseExpr())
			if !p.accept(tokens.Comma) {
				p.expect(tokens.RightBrace, "'}'")
				break
			}
		}
		return d
	}
	p.fail("unexpected '%s'", t.Val)
	return nil
}

func (p *parser) parsePostfix(x expr) expr {
	for {
		switch p.cur().Type {
		case tokens.Dot:
			p.pos++
			t := p.next()
			switch t.Type {
			case tokens.Name, tokens.In, tokens.Is, tokens.And, tokens.Or, tokens.Not:
				x = &attrExpr{x: x, name: t.Val}
			case tokens.Integer:
				i, _ := strconv.Atoi(t.Val)
				x = &itemExpr{x: x, idx: &litExpr{i}}
			default:
				p.fail("expected attribute name, got '%s'", t.Val)
			}
		case tokens.LeftBracket:
			p.pos++
			var parts [3]expr
			n := 0
			isSlice := false
			for {
				if p.cur().Type != tokens.Colon && p.cur().Type != tokens.RightBracket {
					parts[n] = p.parseExpr()
				}
				if p.accept(tokens.Colon) {
					isSlice = true
					n++
					if n > 2 {
						p.fail("bad slice")
					}
					continue
				}
				break
			}
			p.expect(tokens.RightBracket, "']'")
			if isSlice {
				x = &sliceExpr{x: x, lo: parts[0], hi: parts[1], step: parts[2]}
			} else {
				x = &itemExpr{x: x, idx: parts[0]}
			}
		case tokens.LeftParenthesis:
			p.pos++
			args, kwargs := p.parseCallArgs()
			x = &callExpr{fn: x, args: args, kwargs: kwargs}
		default:
			return x
		}
	}
}

// parseCallArgs parses after '(' up to and including ')'.
func (p *parser) parseCallArgs() ([]expr, []kwArg) {
	var args []expr
	var kwargs []kwArg
	for !p.accept(tokens.RightParenthesis) {
		if p.cur().Type == tokens.Name && p.peekAt(1).Type == tokens.Assign {
			name := p.next().Val
			p.pos++
			kwargs = append(kwargs, kwArg{name, p.parseExpr()})
		} else {
			args = append(args, p.parseExpr())
		}
		if !p.accept(tokens.Comma) {
			p.expect(tokens.RightParenthesis, "')'")
			break
		}
	}
	return args, kwargs
}

func (p *parser) parseFilterCall(x expr) *filterExpr {
	name := p.expect(tokens.Name, "filter name").Val
	for p.cur().Type == tokens.Dot { // ansible.builtin.foo
		p.pos++
		name = p.expect(tokens.Name, "filter name").Val
	}
	f := &filterExpr{x: x, name: name}
	if p.accept(tokens.LeftParenthesis) {
		f.args, f.kwargs = p.parseCallArgs()
	}
	return f
}

func (p *parser) parseFilterTests(x expr) expr {
	for {
		switch p.cur().Type {
		case tokens.Pipe:
			p.pos++
			x = p.parseFilterCall(x)
		case tokens.Is:
			p.pos++
			neg := p.cur().Type == tokens.Not
			if neg {
				p.pos++
			}
			t := p.next()
			if t.Type != tokens.Name && t.Type != tokens.In {
				p.fail("expected test name, got '%s'", t.Val)
			}
			name := t.Val
			for p.cur().Type == tokens.Dot {
				p.pos++
				name = p.expect(tokens.Name, "test name").Val
			}
			te := &testExpr{x: x, name: name, neg: neg}
			c := p.cur()
			switch {
			case c.Type == tokens.LeftParenthesis:
				p.pos++
				te.args, te.kwargs = p.parseCallArgs()
			case c.Type == tokens.String || c.Type == tokens.Integer || c.Type == tokens.Float ||
				c.Type == tokens.LeftBracket || c.Type == tokens.LeftBrace ||
				(c.Type == tokens.Name && c.Val != "else" && c.Val != "if"):
				te.args = []expr{p.parsePostfix(p.parsePrimary())}
			}
			x = te
		default:
			return x
		}
	}
}

// pyUnescape applies Python's unicode-escape decoding as Jinja2 does to
// string literals (gonja's lexer has already turned \' and \" into quotes).
func pyUnescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case '\'', '"':
			b.WriteByte(s[i])
		case '\n':
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[s[i]]
			if i+n < len(s) {
				if v, err := strconv.ParseUint(s[i+1:i+1+n], 16, 32); err == nil {
					b.WriteRune(rune(v))
					i += n
					continue
				}
			}
			b.WriteByte('\\')
			b.WriteByte(s[i])
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := i
			for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			v, _ := strconv.ParseUint(s[i:j], 8, 32)
			b.WriteRune(rune(v))
			i = j - 1
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
