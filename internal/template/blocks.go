package template

import (
	"fmt"
	"path/filepath"
	"strings"
)

// tplCtx is one template render's block table, Jinja2's context.blocks:
// for each name the most derived template's block first, then those of
// the templates it extends.
type tplCtx struct {
	blocks map[string][]*blockNode
	dirs   map[*blockNode]string // the directory of the template a block is in
	root   *scope                // blocks render in a child of it
	// parent is the template an executed {% extends %} named; the rest
	// of the current template then writes nothing, and the parent
	// renders next
	parent    *parsed
	parentDir string
	depth     int
}

func (tc *tplCtx) add(p *parsed, dir string) {
	for name, b := range p.blocks {
		tc.blocks[name] = append(tc.blocks[name], b)
		tc.dirs[b] = dir
	}
}

// runTemplate renders a whole template (a top-level one, an include, an
// import or a lookup) in sc: {% extends %} and {% block %} resolve within
// it, as in Jinja2 each included template gets its own block table.
func (sc *scope) runTemplate(p *parsed, out *strings.Builder) {
	tc := &tplCtx{blocks: map[string][]*blockNode{}, dirs: map[*blockNode]string{}, root: sc}
	tc.add(p, sc.st.dir)
	oldTC, oldDir := sc.st.tc, sc.st.dir
	sc.st.tc = tc
	defer func() { sc.st.tc, sc.st.dir = oldTC, oldDir }()
	nodes := p.nodes
	var discard strings.Builder
	for {
		for _, n := range nodes {
			if tc.parent != nil {
				// after {% extends %} only statements run (set, macro, ...);
				// nothing is written
				discard.Reset()
				sc.exec(n, &discard)
				continue
			}
			sc.exec(n, out)
		}
		if tc.parent == nil {
			return
		}
		nodes = tc.parent.nodes
		sc.st.dir = tc.parentDir
		tc.parent = nil
	}
}

// execExtends loads the parent template and adds its blocks after the
// current ones.
func (sc *scope) execExtends(n *extendsNode) {
	tc := sc.st.tc
	if tc == nil {
		fail("extends outside a template")
	}
	if tc.parent != nil {
		fail("extended multiple times")
	}
	if tc.depth >= maxIncludeDepth {
		panic(tplError{fmt.Errorf("maximum recursion depth exceeded: templates extend each other (%d levels)", maxIncludeDepth)})
	}
	p, path := sc.loadTemplate(toStr(sc.eval(n.x)), true)
	tc.depth++
	tc.parent, tc.parentDir = p, filepath.Dir(path)
	tc.add(p, tc.parentDir)
}

// execBlock renders the most derived version of block n where it stands;
// nothing once the template has extended another (the parent places it).
func (sc *scope) execBlock(n *blockNode, out *strings.Builder) {
	tc := sc.st.tc
	if tc == nil || tc.parent != nil {
		return
	}
	base := tc.root
	if n.scoped {
		base = sc
	}
	if len(tc.blocks[n.name]) == 0 {
		// a block in a macro imported from another template
		base.child().execNodes(n.body, out)
		return
	}
	renderBlock(tc, base, n.name, 0, out)
}

// renderBlock renders the i-th version of a block in a child of base;
// super() inside renders the next one.
func renderBlock(tc *tplCtx, base *scope, name string, i int, out *strings.Builder) {
	chain := tc.blocks[name]
	b := chain[i]
	s := base.child()
	s.set("super", fn(func(_ *scope, _ []any, _ map[string]any) any {
		if i+1 >= len(chain) {
			fail("there is no parent block called '%s'.", name)
		}
		var sb strings.Builder
		renderBlock(tc, base, name, i+1, &sb)
		return markup(sb.String())
	}))
	old := s.st.dir
	s.st.dir = tc.dirs[b]
	defer func() { s.st.dir = old }()
	s.execNodes(b.body, out)
}

// selfRef is Jinja2's `self`: self.name() renders block name.
type selfRef struct{ tc *tplCtx }

func (r *selfRef) TemplateGet(name string) (any, bool) {
	if len(r.tc.blocks[name]) == 0 {
		return nil, false
	}
	return fn(func(_ *scope, _ []any, _ map[string]any) any {
		var sb strings.Builder
		renderBlock(r.tc, r.tc.root, name, 0, &sb)
		return markup(sb.String())
	}), true
}
