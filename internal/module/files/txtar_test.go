package files

import (
	"bytes"
	"os"
	"strings"
)

// A minimal txtar (golang.org/x/tools/txtar format), kept here because the
// go-internal copy needs x/tools, which go.mod does not carry.
type txtarFile struct {
	Name string
	Data []byte
}

type txtarArchive struct {
	Comment []byte
	Files   []txtarFile
}

func parseTxtar(path string) (*txtarArchive, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ar := &txtarArchive{}
	var cur *txtarFile
	for _, line := range strings.SplitAfter(string(data), "\n") {
		trimmed := strings.TrimRight(line, "\n")
		if strings.HasPrefix(trimmed, "-- ") && strings.HasSuffix(trimmed, " --") && len(trimmed) > 6 {
			ar.Files = append(ar.Files, txtarFile{Name: strings.TrimSpace(trimmed[3 : len(trimmed)-3])})
			cur = &ar.Files[len(ar.Files)-1]
			continue
		}
		if cur == nil {
			ar.Comment = append(ar.Comment, line...)
		} else {
			cur.Data = append(cur.Data, line...)
		}
	}
	return ar, nil
}

func formatTxtar(ar *txtarArchive) []byte {
	var b bytes.Buffer
	b.Write(ar.Comment)
	for _, f := range ar.Files {
		b.WriteString("-- " + f.Name + " --\n")
		b.Write(f.Data)
		if len(f.Data) > 0 && f.Data[len(f.Data)-1] != '\n' {
			b.WriteString("\n")
		}
	}
	return b.Bytes()
}
