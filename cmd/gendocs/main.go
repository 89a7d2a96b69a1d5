// Command gendocs writes what is generated from docker stateful's cobra
// commands, so that nothing of it is copied by hand:
//
//	gendocs -help plugin/front/help_gen.go   the --help pages the front prints
//	gendocs -docs docs/reference             docs/reference/docker_stateful_<verb>.md
//
// It walks the tree from the root command, so a new verb needs no change
// here: `make docs` runs both, and `make lint` (check-docs) fails when what
// is committed differs from what it writes.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	helpFile := flag.String("help", "", "write the front's help pages (Go source) to `FILE`")
	docsDir := flag.String("docs", "", "write the reference docs (Markdown) into `DIR`")
	flag.Parse()
	if flag.NArg() > 0 || *helpFile == "" && *docsDir == "" {
		fmt.Fprintln(os.Stderr, "usage: gendocs [-help FILE] [-docs DIR]")
		os.Exit(2)
	}
	if *helpFile != "" {
		if err := writeHelp(*helpFile); err != nil {
			fmt.Fprintln(os.Stderr, "gendocs:", err)
			os.Exit(1)
		}
	}
	if *docsDir != "" {
		if err := writeDocs(*docsDir); err != nil {
			fmt.Fprintln(os.Stderr, "gendocs:", err)
			os.Exit(1)
		}
	}
}
