package front

import (
	"regexp"
	"strings"
	"sync"
)

// Docker's reference grammar (github.com/distribution/reference), for the
// names the front shows: a component of a repository path, a domain, a tag.
// Compiled on first use, not at start-up: most execs never need them.
const (
	pathComponent = `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
	domainRe      = `(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?`
)

var imageRes = sync.OnceValues(func() (simple, hex64 *regexp.Regexp) {
	return regexp.MustCompile(`^(?:(` + domainRe + `)/)?(` + pathComponent + `(?:/` + pathComponent + `)*)(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$`),
		regexp.MustCompile(`^[a-f0-9]{64}$`)
})

// repositoryName is stateful.RepositoryName (the image's name as docker
// shows it: "redis", "foo/bar", "registry:5000/foo") for the images it
// reads simply; ok is false for any other (an IPv6 registry, a digest other
// than sha256, an invalid reference), and the full binary answers then.
func repositoryName(image string) (string, bool) {
	simpleImage, hex64 := imageRes()
	m := simpleImage.FindStringSubmatch(image)
	if m == nil || hex64.MatchString(image) {
		return "", false
	}
	domain, path := m[1], m[2]
	if domain != "" && !strings.ContainsAny(domain, ".:") && domain != "localhost" {
		// Not a domain to docker: the first component of a Hub path
		// (the grammar above let an uppercase one through).
		if strings.ToLower(domain) != domain {
			return "", false
		}
		domain, path = "", domain+"/"+path
	}
	if domain == "" || domain == "index.docker.io" {
		domain = "docker.io"
	}
	if domain == "docker.io" && !strings.Contains(path, "/") {
		path = "library/" + path
	}
	if len(domain)+1+len(path) > 255 {
		return "", false
	}
	if domain != "docker.io" {
		return domain + "/" + path, true
	}
	if rest := strings.TrimPrefix(path, "library/"); !strings.Contains(rest, "/") {
		path = rest
	}
	return strings.TrimPrefix(path, "library/"), true
}
