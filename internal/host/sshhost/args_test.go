package sshhost

import (
	"reflect"
	"testing"
	"time"
)

func TestApplySSHArgs(t *testing.T) {
	var cfg Config
	err := ApplySSHArgs(&cfg, `-o UserKnownHostsFile=/k1 -o "StrictHostKeyChecking accept-new" -oConnectTimeout=7 -J jump@bastion:2200 -p 2222 -o ControlMaster=auto -C -i ~/.ssh/k -l deploy`)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{KnownHostsFiles: []string{"/k1"}, AcceptNewHostKey: true, ConnectTimeout: 7 * time.Second,
		ProxyJump: "jump@bastion:2200", Port: 2222, KeyFiles: []string{"~/.ssh/k"}, User: "deploy"}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got %+v\nwant %+v", cfg, want)
	}
	for _, bad := range []string{"-o ProxyCommand=nc %h %p", "-p", "-o StrictHostKeyChecking=maybe", "hostname", "-o Port=x"} {
		var c Config
		if err := ApplySSHArgs(&c, bad); err == nil {
			t.Errorf("ApplySSHArgs(%q) accepted", bad)
		}
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{"": "''", "abc/d.e": "abc/d.e", "a b": "'a b'", "it's": `'it'\''s'`, "$HOME": "'$HOME'"} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
	if got, want := splitUserHost("u@h:22"), "u h 22"; got != want {
		t.Errorf("split = %q", got)
	}
}

func splitUserHost(s string) string {
	u, h, p := splitUserHostPort(s, "x")
	return u + " " + h + " " + itoa(p)
}

func itoa(n int) string { return string(rune('0'+n/10)) + string(rune('0'+n%10)) }
