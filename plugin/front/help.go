package front

import (
	"strings"

	"github.com/docker-stateful/docker-stateful/plugin/helptext"
)

//go:generate go run ../../cmd/gendocs -help help_gen.go

// helpRequest recognises the help requests docker sends for docker
// stateful's commands, and the bytes to print before the page:
//
//	stateful [COMMAND...] --help    docker stateful [VERB] --help
//	stateful [COMMAND...] -h        the same, after pflag's note on -h
//	help stateful [COMMAND...]      docker help stateful [VERB]
func helpRequest(args []string) (helptext.Page, string, bool) {
	var path []string
	note := ""
	switch {
	case len(args) >= 2 && args[0] == "help" && args[1] == "stateful":
		path = args[2:]
	case len(args) >= 2 && args[0] == "stateful" && args[len(args)-1] == "--help":
		path = args[1 : len(args)-1]
	case len(args) >= 2 && args[0] == "stateful" && args[len(args)-1] == "-h":
		path, note = args[1:len(args)-1], helpShorthandNote
	default:
		return helptext.Page{}, "", false
	}
	for _, w := range path {
		if w == "" || strings.HasPrefix(w, "-") || strings.Contains(w, " ") {
			return helptext.Page{}, "", false // flags or odd words: cobra's to parse
		}
	}
	// Arguments (update web --help) are no command path: no page.
	page, ok := helpPages[strings.Join(path, " ")]
	return page, note, ok
}
