package inventory

import (
	"reflect"
	"testing"
)

func TestAddHostAndGroup(t *testing.T) {
	inv := newInventory(Options{})
	if err := inv.parseINI("hosts.ini", []byte("[web]\nw1 role=fe\nw2\n[db]\nd1\n")); err != nil {
		t.Fatal(err)
	}
	inv.reconcile()

	changed, err := inv.AddToGroup("w1", "kind_fe", nil)
	if err != nil || !changed {
		t.Fatalf("AddToGroup: changed=%v err=%v", changed, err)
	}
	if changed, _ := inv.AddToGroup("w1", "kind_fe", nil); changed {
		t.Error("adding the host to the same group again reported a change")
	}
	if got := inv.Groups()["kind_fe"]; !reflect.DeepEqual(got, []string{"w1"}) {
		t.Errorf("groups[kind_fe] = %v", got)
	}
	if got := inv.GroupNames("w1"); !reflect.DeepEqual(got, []string{"kind_fe", "web"}) {
		t.Errorf("group_names(w1) = %v", got)
	}
	if _, err := inv.AddToGroup("w2", "sub", []string{"kind_fe"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := inv.Match("kind_fe"); !reflect.DeepEqual(got, []string{"w1", "w2"}) {
		t.Errorf("kind_fe with child group sub matches %v", got)
	}
	if _, err := inv.AddToGroup("nohost", "g", nil); err == nil {
		t.Error("an unknown host was accepted")
	}
	if _, err := inv.AddToGroup("w1", "kind_fe", []string{"sub"}); err == nil {
		t.Error("a group cycle was accepted")
	}

	changed, err = inv.AddHost("new1:2222", []string{"added", "db"}, map[string]any{"extra": 1})
	if err != nil || !changed {
		t.Fatalf("AddHost: changed=%v err=%v", changed, err)
	}
	h, ok := inv.Host("new1")
	if !ok || h.Vars["extra"] != 1 || h.Vars["ansible_ssh_port"] != 2222 || !reflect.DeepEqual(h.Groups, []string{"all", "added", "db"}) {
		t.Errorf("new host %+v", h)
	}
	if changed, _ := inv.AddHost("new1:2222", []string{"added"}, map[string]any{"extra": 1}); changed {
		t.Error("adding the same host again reported a change")
	}
	if changed, _ := inv.AddHost("new1", nil, map[string]any{"extra": 2}); !changed {
		t.Error("a changed variable was not a change")
	}
	if got := inv.Groups()["ungrouped"]; len(got) != 0 {
		t.Errorf("ungrouped = %v: hosts in a group are not ungrouped", got)
	}
	if got, _ := inv.Match("all"); !reflect.DeepEqual(got, []string{"new1", "w1", "w2", "d1"}) { // add_host puts the host in all directly: first, as in Ansible
		t.Errorf("all = %v", got)
	}
}
