// Package engine runs parsed playbooks: plays over hosts, tasks with their
// keywords (when, loop, register, notify, blocks, ...), handlers, check and
// diff mode, variable precedence and the Ansible-like actions that need the
// engine itself (debug, set_fact, assert, fail, meta, include_*). Modules do
// the work on hosts through host.Host; the engine decides what runs where.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tend-project/tend/internal/host"
	"github.com/tend-project/tend/internal/inventory"
	"github.com/tend-project/tend/internal/playbook"
	"github.com/tend-project/tend/internal/report"
	"github.com/tend-project/tend/internal/template"
)

// Connector opens the Host for an inventory host given its variables
// (ansible_connection, ansible_host, ...). An error makes the host
// unreachable.
type Connector func(ctx context.Context, name string, vars map[string]any) (host.Host, error)

// FactGatherer gathers ansible_facts for a host.
type FactGatherer func(ctx context.Context, h host.Host) (map[string]any, error)

// Options configure a run.
type Options struct {
	Inventory *inventory.Inventory
	Limit     string
	ExtraVars map[string]any
	Check     bool
	Diff      bool
	Tags      []string
	SkipTags  []string
	Forks     int
	Connect   Connector
	Facts     FactGatherer
	Sink      report.Sink
	Log       *slog.Logger
	// Decrypt decrypts ansible-vault data (vars files, !vault values); nil
	// means vault content is an error.
	Decrypt func(data []byte) ([]byte, error)
	// RolesPath adds role search dirs (roles_path, ANSIBLE_ROLES_PATH).
	RolesPath []string
	// Prompt asks for a vars_prompt variable; nil (the agent, or no
	// terminal) takes each one's default, or null without one, as
	// ansible-playbook does when nobody can answer.
	Prompt func(VarPrompt) (string, error)
	// StartAt is --start-at-task: the run starts at the first task with
	// this name (a shell pattern, as fnmatch).
	StartAt string
	// ForceHandlers runs notified handlers on hosts that failed too
	// (--force-handlers).
	ForceHandlers bool
	// Gathering is Ansible's gathering setting: with "explicit", a play
	// that does not set gather_facts gathers none.
	Gathering string
	// Verbosity is the -v count (debug's verbosity: compares with it).
	Verbosity int
	// Become returns the view of a host that acts as another user (play
	// or task become: / become_user:); nil = become is not supported.
	Become func(h host.Host, user string) (host.Host, error)
	// Backup saves a file's content before a module changes it (the agent's
	// backup store); nil = no backups.
	Backup func(ctx context.Context, h host.Host, path string) error
	// Confine, when set, refuses a src, include or vars file that resolves
	// (symlinks too) outside this directory — the agent's repo checkout.
	Confine string
	// Secrets are values to mask in every result (decrypted vault files
	// read before the run, such as inventory files).
	Secrets []string
}

// ErrParse wraps playbook parse/validation errors (exit code 4).
var ErrParse = errors.New("playbook does not parse")

// Runner executes playbooks.
type Runner struct {
	opts    Options
	tmpl    *template.Engine
	rep     *report.Report
	hosts   map[string]*hostState
	mu      sync.Mutex
	loader  *playbook.Loader
	secrets secretSet // decrypted values, masked in every result

	startDone bool // --start-at-task has found its task

	groupsMu sync.Mutex
	groups   map[string]any // the `groups` magic variable; nil when stale
}

// New returns a runner.
func New(opts Options) *Runner {
	if opts.Forks <= 0 {
		opts.Forks = 5
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Inventory == nil {
		opts.Inventory = inventory.Empty()
	}
	if opts.Sink == nil {
		opts.Sink = report.Multi{}
	}
	r := &Runner{opts: opts, tmpl: template.New(template.Options{}), hosts: map[string]*hostState{}}
	r.loader = playbook.NewLoader(IsAction)
	r.loader.RolesPath = opts.RolesPath
	for _, s := range opts.Secrets {
		r.secrets.add(s)
	}
	return r
}

// Load parses a playbook with this runner's action set; errors wrap ErrParse.
func Load(path string, rolesPath []string) (*playbook.Playbook, error) {
	l := playbook.NewLoader(IsAction)
	l.RolesPath = rolesPath
	pb := l.LoadPlaybook(path)
	if err := l.Errs.Err(); err != nil {
		return nil, fmt.Errorf("%w:\n%v", ErrParse, err)
	}
	if errs := Validate(pb); len(errs) > 0 {
		return nil, fmt.Errorf("%w:\n%v", ErrParse, errs)
	}
	return pb, nil
}

// Run runs every play of pb and returns the report. The error is non-nil
// only for problems that stop the whole run (not for failed tasks).
func (r *Runner) Run(ctx context.Context, pb *playbook.Playbook) (*report.Report, error) {
	r.rep = &report.Report{Stats: map[string]*report.Recap{}, Check: r.opts.Check, Start: time.Now()}
	defer func() {
		r.rep.End = time.Now()
		r.opts.Sink.End(r.rep)
	}()
	for _, p := range pb.Plays {
		if err := ctx.Err(); err != nil {
			return r.rep, err
		}
		if err := r.runPlay(ctx, pb, p); err != nil {
			return r.rep, err
		}
	}
	if r.opts.StartAt != "" && !r.startDone {
		// a mistyped name ran nothing: say so, as ansible-playbook does
		// (it too exits 0)
		r.opts.Sink.Warn(fmt.Sprintf("No matching task %q found. Note: --start-at-task can only follow static includes.", r.opts.StartAt))
	}
	return r.rep, nil
}

// VarPrompt is one vars_prompt entry to ask for.
type VarPrompt struct {
	Name, Prompt string
	Default      any // nil when there is none
	Private      bool
	Confirm      bool
}

// varsPrompt sets the play's vars_prompt variables that -e did not give.
func (r *Runner) varsPrompt(p *playbook.Play, vars map[string]any) error {
	raw, ok := p.Unknown["vars_prompt"]
	if !ok || raw == nil {
		return nil
	}
	list, ok := template.ToGo(raw).([]any)
	if !ok {
		return fmt.Errorf("must be a list of {name: ..., prompt: ...}")
	}
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok || m["name"] == nil {
			return fmt.Errorf("each entry needs a name (got %v)", e)
		}
		vp := VarPrompt{Name: fmt.Sprint(m["name"]), Default: m["default"], Private: true}
		if s, ok := m["prompt"].(string); ok {
			vp.Prompt = s
		} else {
			vp.Prompt = vp.Name
		}
		if b, ok := boolish(m["private"]); ok {
			vp.Private = b
		}
		vp.Confirm, _ = boolish(m["confirm"])
		if _, given := r.opts.ExtraVars[vp.Name]; given {
			continue
		}
		if r.opts.Prompt == nil {
			vars[vp.Name] = vp.Default
			continue
		}
		if m["encrypt"] != nil {
			return fmt.Errorf("%s: encrypt is not supported; give the value with -e", vp.Name)
		}
		v, err := r.opts.Prompt(vp)
		if err != nil {
			return fmt.Errorf("%s: %w", vp.Name, err)
		}
		if v == "" && vp.Default != nil {
			vars[vp.Name] = vp.Default
		} else {
			vars[vp.Name] = v
		}
	}
	return nil
}

// playOrder puts a play's hosts in the order its `order:` asks for:
// inventory (the default), reverse_inventory, sorted, reverse_sorted or
// shuffle.
func playOrder(names []string, order any) ([]string, error) {
	out := slices.Clone(names)
	switch order {
	case nil, "inventory":
	case "reverse_inventory":
		slices.Reverse(out)
	case "sorted":
		slices.Sort(out)
	case "reverse_sorted":
		slices.Sort(out)
		slices.Reverse(out)
	case "shuffle":
		rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	default:
		return nil, fmt.Errorf("invalid play 'order' value %v: use inventory, reverse_inventory, sorted, reverse_sorted or shuffle", order)
	}
	return out, nil
}

// hostState is what the engine knows of one host across a run.
type hostState struct {
	name     string
	h        host.Host
	connErr  error
	invVars  map[string]any
	facts    map[string]any // ansible_facts
	cached   map[string]any // set_fact and register
	incVars  map[string]any // include_vars
	failed   bool
	unreach  bool
	ended    bool // meta: end_host
	notified map[string]bool
	// lastFailed* feed ansible_failed_task/_result; rescueVars holds them
	// while a rescue section runs.
	lastFailedTask   map[string]any
	lastFailedResult map[string]any
	rescueVars       map[string]any
	recap            *report.Recap
	mu               sync.Mutex

	// plainFacts are the facts a module returned without the ansible_
	// prefix (getent_passwd, packages): Ansible makes them top-level
	// variables under that same name, not ansible_<name>.
	plainFacts map[string]bool
}

func (r *Runner) hostFor(ctx context.Context, name, playDir string) (*hostState, error) {
	if hs, ok := r.hosts[name]; ok {
		return hs, nil
	}
	iv, err := r.opts.Inventory.HostVars(name, playDir)
	if err != nil {
		return nil, err
	}
	hs := &hostState{name: name, invVars: iv, cached: map[string]any{}, incVars: map[string]any{}, notified: map[string]bool{}}
	hs.recap = &report.Recap{}
	r.rep.Stats[name] = hs.recap
	r.hosts[name] = hs
	return hs, nil
}

// connect opens the host's connection lazily, once per run.
func (r *Runner) connect(ctx context.Context, hs *hostState, vars map[string]any) error {
	if hs.h != nil || hs.connErr != nil {
		return hs.connErr
	}
	if r.opts.Connect == nil {
		hs.h = host.NewLocal()
		return nil
	}
	h, err := r.opts.Connect(ctx, hs.name, vars)
	if err != nil {
		hs.connErr = err
		return err
	}
	hs.h = h
	return nil
}

// play is the state of one running play.
type play struct {
	p        *playbook.Play
	pb       *playbook.Playbook
	hosts    []*hostState     // the current serial batch
	all      []*hostState     // every host of the play
	roles    []*playbook.Role // roles of the play's roles: section, dependencies first
	vars     map[string]any
	handlers []*handler
	rep      *report.Play
	roleSeen map[string]bool
	check    bool
	ended    bool // meta: end_play, any_errors_fatal, max_fail_percentage
	// batchEnded is meta: end_batch: the rest of this serial batch is
	// skipped, the next batch runs
	batchEnded bool
}

// stopped reports whether the current batch runs no more tasks.
func (pl *play) stopped() bool { return pl.ended || pl.batchEnded }

type handler struct {
	task  *playbook.Task
	scope *scope
}

func (r *Runner) runPlay(ctx context.Context, pb *playbook.Playbook, p *playbook.Play) error {
	name := p.Name
	// Host pattern may use extra vars / play vars.
	pattern := p.Hosts
	if template.IsTemplated(pattern) {
		s, err := r.tmpl.RenderString(pattern, template.Vars(merge(p.Vars, r.opts.ExtraVars)))
		if err != nil {
			return fmt.Errorf("%s: hosts: %w", p.Pos, err)
		}
		pattern = s
	}
	names, err := r.opts.Inventory.Match(pattern)
	if err != nil {
		return fmt.Errorf("%s: hosts: %w", p.Pos, err)
	}
	if r.opts.Limit != "" {
		names, err = r.opts.Inventory.Limit(names, r.opts.Limit)
		if err != nil {
			return err
		}
	}
	// order: changes the order hosts run in (and are batched in), not
	// ansible_play_hosts_all, as in Ansible
	runOrder, err := playOrder(names, p.Unknown["order"])
	if err != nil {
		return fmt.Errorf("%s: %w", p.Pos, err)
	}
	if name == "" {
		name = pattern
	}
	pl := &play{p: p, pb: pb, rep: &report.Play{Name: name, Hosts: names}, roleSeen: map[string]bool{}, check: r.opts.Check}
	r.rep.Plays = append(r.rep.Plays, pl.rep)
	if len(names) == 0 {
		r.opts.Sink.PlayStart(name, names)
		return nil
	}
	if b, ok := boolish(p.CheckMode); ok {
		pl.check = b
	}
	var all []*hostState
	for _, n := range names {
		hs, err := r.hostFor(ctx, n, p.Dir)
		if err != nil {
			return err
		}
		// a host that failed or became unreachable in an earlier play is
		// out of the rest of the playbook, as in Ansible
		if !hs.unreach && !hs.failed {
			hs.ended = false
			all = append(all, hs)
		}
	}
	pl.vars = map[string]any{}
	for k, v := range p.Vars {
		pl.vars[k] = v
	}
	if err := r.varsPrompt(p, pl.vars); err != nil {
		return fmt.Errorf("%s: vars_prompt: %w", p.Pos, err)
	}
	byName := make(map[string]*hostState, len(all))
	for _, hs := range all {
		byName[hs.name] = hs
	}
	var ordered []*hostState
	for _, n := range runOrder {
		if hs, ok := byName[n]; ok {
			ordered = append(ordered, hs)
		}
	}
	batches, err := r.batches(p, ordered)
	if err != nil {
		return fmt.Errorf("%s: serial: %w", p.Pos, err)
	}
	pl.all = all
	// the roles: section and import_role expose their defaults and vars to
	// the whole play (even the tasks before an import_role), as Ansible
	// does with private_role_vars off
	pl.roles = playRoles(append(append([]*playbook.RoleRef{}, p.Roles...), importedRoles(p)...), map[*playbook.Role]bool{})
	for _, batch := range batches {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		pl.hosts = batch
		pl.batchEnded = false
		r.opts.Sink.PlayStart(name, hostNames(batch))
		pl.roleSeen = map[string]bool{}
		pl.handlers = nil
		if err := r.runBatch(ctx, pl); err != nil {
			return err
		}
		if pl.ended {
			break
		}
		// a batch whose hosts all failed stops the play, as Ansible does
		if len(active(batch)) == 0 && len(batch) > 0 {
			break
		}
	}
	return nil
}

// runBatch runs the play's sections on pl.hosts (one serial batch).
func (r *Runner) runBatch(ctx context.Context, pl *play) error {
	p := pl.p
	root := playScope(pl, false)
	if err := r.loadVarsFiles(ctx, pl, root); err != nil {
		return err
	}
	// Handlers: role handlers first, then the play's, as Ansible orders them.
	var roleBlocks []*playbook.Task
	for _, ref := range p.Roles {
		roleBlocks = append(roleBlocks, r.roleBlock(pl, ref)...)
	}
	for _, h := range p.Handlers {
		pl.handlers = append(pl.handlers, &handler{task: h, scope: playScope(pl, true)})
	}
	gather := p.GatherFacts == nil && r.opts.Gathering != "explicit" || p.GatherFacts != nil && *p.GatherFacts
	if gather && r.tagsAllow([]string{"always"}) {
		r.gatherFacts(ctx, pl, root)
	}
	r.runList(ctx, pl, root, p.PreTasks)
	r.flushHandlers(ctx, pl)
	r.runList(ctx, pl, root, roleBlocks)
	r.runList(ctx, pl, root, p.Tasks)
	r.flushHandlers(ctx, pl)
	r.runList(ctx, pl, root, p.PostTasks)
	r.flushHandlers(ctx, pl)
	return nil
}

// batches splits the play's hosts by `serial:` (a number, a percentage, or
// a list of them whose last entry repeats).
func (r *Runner) batches(p *playbook.Play, hosts []*hostState) ([][]*hostState, error) {
	if p.Serial == nil || len(hosts) == 0 {
		return [][]*hostState{hosts}, nil
	}
	var sizes []any
	if l, ok := p.Serial.([]any); ok {
		sizes = l
	} else {
		sizes = []any{p.Serial}
	}
	var out [][]*hostState
	rest := hosts
	for i := 0; len(rest) > 0; i++ {
		spec := sizes[min(i, len(sizes)-1)]
		n, err := batchSize(spec, len(hosts))
		if err != nil {
			return nil, err
		}
		if n <= 0 || n > len(rest) {
			n = len(rest)
		}
		out = append(out, rest[:n])
		rest = rest[n:]
	}
	return out, nil
}

func batchSize(spec any, total int) (int, error) {
	s := strings.TrimSpace(fmt.Sprint(spec))
	if strings.HasSuffix(s, "%") {
		pct, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
		if err != nil {
			return 0, fmt.Errorf("bad percentage %q", s)
		}
		n := int(float64(total) * pct / 100)
		return max(n, 1), nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("must be a number, a percentage or a list of them, got %q", s)
	}
	return n, nil
}

func (r *Runner) loadVarsFiles(ctx context.Context, pl *play, sc *scope) error {
	if len(pl.p.VarsFiles) == 0 {
		return nil
	}
	var vars template.Vars
	if len(pl.hosts) > 0 {
		vars = r.varsFor(pl.hosts[0], sc, nil)
	} else {
		vars = template.Vars(merge(pl.vars, r.opts.ExtraVars))
	}
	for _, vf := range pl.p.VarsFiles {
		cands := []any{vf}
		if l, ok := vf.([]any); ok {
			cands = l // first found
		}
		var lastErr error
		loaded := false
		for _, c := range cands {
			name, err := r.tmpl.RenderString(fmt.Sprint(c), vars)
			if err != nil {
				return fmt.Errorf("%s: vars_files: %w", pl.p.Pos, err)
			}
			path := name
			if !filepath.IsAbs(path) {
				path = filepath.Join(pl.p.Dir, name)
			}
			m, err := r.readVarsFile(path)
			if err != nil {
				lastErr = err
				continue
			}
			for k, v := range m {
				pl.vars[k] = v
			}
			loaded = true
			break
		}
		if !loaded {
			return fmt.Errorf("%s: vars_files: %w", pl.p.Pos, lastErr)
		}
	}
	return nil
}

// readVarsFile reads a YAML/JSON vars file, decrypting vault content.
func (r *Runner) readVarsFile(path string) (map[string]any, error) {
	if err := r.confine(path); err != nil {
		return nil, err
	}
	var v any
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(string(data), "$ANSIBLE_VAULT") {
		if r.opts.Decrypt == nil {
			return nil, fmt.Errorf("%s is vault-encrypted: give --vault-password-file", path)
		}
		data, err = r.opts.Decrypt(data)
		if err != nil {
			return nil, fmt.Errorf("decrypt %s: %w", path, err)
		}
		defer func() { r.secrets.addLeaves(v) }()
	}
	v, err = playbook.DecodeBytes(data, path)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return map[string]any{}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: a vars file must hold a mapping", path)
	}
	return m, nil
}

func (r *Runner) gatherFacts(ctx context.Context, pl *play, sc *scope) {
	r.opts.Sink.TaskStart("Gathering Facts", false)
	results := r.parallel(ctx, pl.hosts, func(hs *hostState) report.TaskResult {
		res := report.TaskResult{Host: hs.name, Play: pl.rep.Name, Task: "Gathering Facts", Action: "gather_facts", Start: time.Now()}
		vars := r.varsFor(hs, sc, nil)
		if err := r.connect(ctx, hs, vars); err != nil {
			res.Status, res.Msg = report.StatusUnreachable, err.Error()
			return res
		}
		if hs.facts == nil && r.opts.Facts != nil {
			f, err := r.opts.Facts(ctx, hs.h)
			if err != nil {
				res.Status, res.Msg = report.StatusFailed, "gathering facts: "+err.Error()
				return res
			}
			hs.facts = f
		}
		if hs.facts == nil {
			hs.facts = map[string]any{}
		}
		res.Status = report.StatusOK
		res.Duration = time.Since(res.Start).Seconds()
		return res
	})
	for _, res := range results {
		r.record(pl, res)
	}
}

// parallel runs fn for each active host, at most Forks at once, and returns
// results in host order.
func (r *Runner) parallel(ctx context.Context, hosts []*hostState, fn func(*hostState) report.TaskResult) []report.TaskResult {
	return r.parallelN(ctx, r.opts.Forks, hosts, fn)
}

// parallelN is parallel with at most n hosts at once (a task's throttle).
func (r *Runner) parallelN(ctx context.Context, n int, hosts []*hostState, fn func(*hostState) report.TaskResult) []report.TaskResult {
	if n <= 0 || n > r.opts.Forks {
		n = r.opts.Forks
	}
	out := make([]report.TaskResult, len(hosts))
	if len(hosts) == 1 || n == 1 {
		for i, hs := range hosts {
			out[i] = fn(hs)
		}
		return out
	}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i, hs := range hosts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = fn(hs)
		}()
	}
	wg.Wait()
	return out
}

// record adds a result to the report, the recap and the sink.
func (r *Runner) record(pl *play, res report.TaskResult) {
	if res.Status == "" {
		return
	}
	res = r.redact(res)
	hs := r.hosts[res.Host]
	pl.rep.Tasks = append(pl.rep.Tasks, res)
	r.opts.Sink.TaskResult(res)
	if hs == nil {
		return
	}
	switch res.Status {
	case report.StatusOK:
		hs.recap.OK++
	case report.StatusChanged:
		hs.recap.OK++
		hs.recap.Changed++
	case report.StatusSkipped:
		hs.recap.Skipped++
	case report.StatusFailed:
		if res.Ignored {
			hs.recap.OK++
			hs.recap.Ignored++
			if res.Changed {
				hs.recap.Changed++
			}
		} else {
			hs.recap.Failed++
		}
	case report.StatusUnreachable:
		if res.Ignored { // ignore_unreachable, counted as Ansible counts it
			hs.recap.OK++
			hs.recap.Ignored++
			break
		}
		hs.recap.Unreachable++
		hs.unreach = true
	}
}

// active returns the hosts of the play still running.
func active(hosts []*hostState) []*hostState {
	var out []*hostState
	for _, hs := range hosts {
		if !hs.failed && !hs.unreach && !hs.ended {
			out = append(out, hs)
		}
	}
	return out
}

func hostNames(hs []*hostState) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.name
	}
	return out
}

func merge(maps ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// addRole exposes a role's defaults and vars to the rest of the play (an
// include_role with public: true). Called between tasks, never while hosts
// run one.
func (pl *play) addRole(role *playbook.Role) {
	for _, r := range pl.roles {
		if r.Path == role.Path {
			return
		}
	}
	pl.roles = append(append([]*playbook.Role{}, pl.roles...), role)
}

// importedRoles are the roles a play's task lists bring in with import_role.
func importedRoles(p *playbook.Play) []*playbook.RoleRef {
	var out []*playbook.RoleRef
	seen := map[*playbook.Task]bool{}
	for _, ts := range [][]*playbook.Task{p.PreTasks, p.Tasks, p.PostTasks} {
		eachTask(seen, ts, func(t *playbook.Task) {
			if t.Imported && t.RoleRef != nil && t.RoleRef.Role != nil {
				out = append(out, t.RoleRef)
			}
		})
	}
	return out
}

// playRoles lists the roles refs bring in (the roles: section, import_role),
// dependencies first, each once.
func playRoles(refs []*playbook.RoleRef, seen map[*playbook.Role]bool) []*playbook.Role {
	var out []*playbook.Role
	for _, ref := range refs {
		if ref.Role == nil || seen[ref.Role] {
			continue
		}
		seen[ref.Role] = true
		out = append(out, playRoles(ref.Role.Deps, seen)...)
		out = append(out, ref.Role)
	}
	return out
}
