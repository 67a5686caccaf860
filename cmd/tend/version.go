package main

import (
	"fmt"
	"runtime"
)

func init() {
	register("version", "print the version", func(args []string) error {
		fmt.Printf("tend %s (%s %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return nil
	})
}
