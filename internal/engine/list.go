package engine

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/tend-project/tend/internal/playbook"
	"github.com/tend-project/tend/internal/report"
)

// ListOptions are ansible-playbook's --list-hosts, --list-tasks and
// --list-tags.
type ListOptions struct {
	Hosts, Tasks, Tags bool
}

// List writes, for each play of pb, what ansible-playbook prints for the
// --list-* options in lo, in its format: the hosts a play would run on
// (after --limit), the tasks that --tags and --skip-tags select (includes
// as themselves, imports and roles expanded, block sections but not rescue
// or always, as Ansible lists them), and the tags seen. Nothing runs and
// no host is contacted.
func (r *Runner) List(w io.Writer, path string, pb *playbook.Playbook, lo ListOptions) error {
	// every play's hosts first, as Ansible resolves them (and warns about
	// patterns that match nothing) before it lists anything
	hosts := make([][]string, len(pb.Plays))
	for i, p := range pb.Plays {
		names, err := r.opts.Inventory.Match(p.Hosts)
		if err != nil {
			return fmt.Errorf("%s: hosts: %w", p.Pos, err)
		}
		if r.opts.Limit != "" {
			if names, err = r.opts.Inventory.Limit(names, r.opts.Limit); err != nil {
				return err
			}
		}
		hosts[i] = names
	}
	fmt.Fprintf(w, "\nplaybook: %s\n", path)
	for i, p := range pb.Plays {
		name := p.Name
		if name == "" {
			name = p.Hosts
		}
		playTags := slices.Clone(p.Tags)
		sort.Strings(playTags)
		fmt.Fprintf(w, "\n  play #%d (%s): %s\tTAGS: [%s]\n", i+1, p.Hosts, name, strings.Join(playTags, ","))
		if lo.Hosts {
			names := hosts[i]
			fmt.Fprintf(w, "    pattern: ['%s']\n    hosts (%d):\n", p.Hosts, len(names))
			for _, n := range names {
				fmt.Fprintf(w, "      %s\n", n)
			}
		}
		if !lo.Tasks && !lo.Tags {
			continue
		}
		pl := &play{p: p, pb: pb, rep: &report.Play{}, roleSeen: map[string]bool{}}
		var lists [][]*playbook.Task
		for _, ref := range p.Roles {
			// listed as Ansible compiles the play: a role that is also a
			// dependency of a later one is listed again
			pl.roleSeen = map[string]bool{}
			lists = append(lists, r.roleBlock(pl, ref))
		}
		lists = append(lists, p.PreTasks, p.Tasks, p.PostTasks)
		seenTags := map[string]bool{}
		for _, t := range p.Tags {
			seenTags[t] = true
		}
		var out strings.Builder
		if lo.Tasks {
			out.WriteString("    tasks:\n")
		}
		var walk func(ts []*playbook.Task, inherited []string, role string)
		walk = func(ts []*playbook.Task, inherited []string, role string) {
			for _, t := range ts {
				tags := append(slices.Clone(inherited), t.Tags...)
				if t.IsBlock() || t.Imported {
					inner := role
					if t.RoleRef != nil && t.RoleRef.Role != nil {
						inner = t.RoleRef.Role.Name
					}
					walk(t.Block, tags, inner) // Ansible lists no rescue or always tasks
					continue
				}
				if !r.tagsAllow(tags) {
					continue
				}
				for _, tag := range tags {
					seenTags[tag] = true
				}
				if !lo.Tasks {
					continue
				}
				label := t.Action
				if t.Name != "" {
					label = t.Name
					if role != "" {
						label = role + " : " + label
					}
				}
				sorted := uniqueSorted(tags)
				fmt.Fprintf(&out, "      %s\tTAGS: [%s]\n", label, strings.Join(sorted, ", "))
			}
		}
		for _, l := range lists {
			walk(l, p.Tags, "")
		}
		if lo.Tags {
			all := make([]string, 0, len(seenTags))
			for t := range seenTags {
				all = append(all, t)
			}
			fmt.Fprintf(&out, "      TASK TAGS: [%s]\n", strings.Join(uniqueSorted(all), ", "))
		}
		w.Write([]byte(out.String()))
	}
	return nil
}

func uniqueSorted(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return slices.Compact(out)
}
