package front

import (
	"strings"

	"github.com/docker-stateful/docker-stateful/plugin/helptext"
)

//go:generate go run ../../cmd/gendocs -help help_gen.go

// helpRequest recognises the help requests docker sends for docker
// stateful's commands, and the bytes to print before the page:
//
//	stateful [VERB] --help        docker stateful [VERB] --help
//	stateful [VERB] -h            the same, after pflag's note on -h
//	help stateful [VERB]          docker help stateful [VERB]
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
	if len(path) > 1 || len(path) == 1 && (path[0] == "" || strings.HasPrefix(path[0], "-")) {
		return helptext.Page{}, "", false // arguments or flags for cobra to parse
	}
	page, ok := helpPages[strings.Join(path, " ")]
	return page, note, ok
}
