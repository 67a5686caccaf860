package config

import (
	"bytes"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/tend-project/tend/internal/atomicfile"

	"go.yaml.in/yaml/v3"
)

// comments documents each key in files written by Marshal.
var comments = map[string]string{
	"source.url":                     "ssh://, https://, file://, user@host:path or a path",
	"source.ref":                     "branch, tag or commit",
	"source.interval":                "poll period",
	"source.splay":                   "random delay, against thundering herds",
	"source.ssh_key":                 "private key for ssh URLs",
	"source.known_hosts":             "host keys are always checked",
	"source.http_auth_file":          "\"user:token\" for https URLs",
	"source.depth":                   "0 = full history",
	"source.verify.mode":             "none | ssh | openpgp; commits that fail are never applied",
	"source.verify.allowed_signers":  "ssh: git's allowed_signers format",
	"source.verify.keyring":          "openpgp: armored public keys",
	"source.verify.all_commits":      "verify every new commit, not only the newest",
	"source.allow_force_push":        "false = refuse history that is not a fast-forward",
	"playbook":                       "in the repo; empty = <fqdn>.yml, <hostname>.yml, local.yml",
	"inventory":                      "in the repo",
	"host":                           "inventory name of this host; empty = hostname",
	"backend":                        "native | ansible | auto (ansible for what native lacks)",
	"drift.interval":                 "how often to check for drift",
	"drift.full_hash_interval":       "how often to re-hash file contents, not only stat them",
	"drift.watch":                    "also react to file events on managed files",
	"drift.remediate":                "false = report drift only, change nothing",
	"guardrails.max_changes":         ">0: refuse a run that would change more",
	"guardrails.windows":             "e.g. [\"Mon-Fri 09:00-17:00 UTC\"]; empty = always",
	"guardrails.rollout_delay":       "apply a commit only once it is this old",
	"guardrails.rollback_on_failure": "re-apply the last good commit when a run fails",
	"backups.max_bytes":              "files saved before tend changed them, at most this much",
	"backups.max_age":                "and no older than this",
	"audit.max_bytes":                "rotate audit.jsonl past this size",
	"listen":                         "/metrics, /healthz, /status, POST /hooks/sync; empty = off",
	"vault_password_file":            "for vault-encrypted files and variables",
	"webhook_secret_file":            "HMAC-SHA256 of the body, GitHub style",
	"textfile":                       "also write metrics for node_exporter's collector (*.prom)",
	"state_dir":                      "checkout, state.json, audit.jsonl, backups/",
}

// Marshal writes the config as a tend.yaml that Load reads back to the same
// values, with every key present and commented.
func (c *Config) Marshal() ([]byte, error) {
	root := encode(reflect.ValueOf(c).Elem(), "")
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root},
		HeadComment: "tend agent config (tend agent --config). Unknown keys are errors."}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	return buf.Bytes(), nil
}

func encode(v reflect.Value, prefix string) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := yamlName(f)
		if name == "" {
			continue
		}
		key := join(prefix, name)
		fv := v.Field(i)
		var val *yaml.Node
		switch {
		case fv.Type() == durationType:
			val = str(FormatDuration(time.Duration(fv.Int())))
		case f.Tag.Get("tend") == "bytes":
			val = str(FormatBytes(fv.Int()))
			if _, err := strconv.ParseInt(val.Value, 10, 64); err == nil {
				val.Tag = "!!int"
			}
		case fv.Kind() == reflect.Struct:
			val = encode(fv, key)
		case fv.Type() == reflect.TypeFor[[]Window]():
			val = &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
			for _, w := range fv.Interface().([]Window) {
				val.Content = append(val.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: w.text, Style: yaml.DoubleQuotedStyle})
			}
		case fv.Kind() == reflect.Bool:
			val = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(fv.Bool())}
		case fv.Kind() == reflect.Int || fv.Kind() == reflect.Int64:
			val = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(fv.Int(), 10)}
		default:
			val = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: fv.String()}
			if fv.String() == "" {
				val.Style = yaml.DoubleQuotedStyle
			}
		}
		k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: name}
		if c := comments[key]; c != "" {
			if val.Kind == yaml.MappingNode {
				k.LineComment = c
			} else {
				val.LineComment = c
			}
		}
		m.Content = append(m.Content, k, val)
	}
	return m
}

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// Write stores the config at path atomically (temp file, fsync, rename,
// fsync of the directory), mode 0600 since it names secret files.
func (c *Config) Write(path string) error {
	data, err := c.Marshal()
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}
