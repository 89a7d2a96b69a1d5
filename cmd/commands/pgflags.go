package commands

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/docker-stateful/docker-stateful/plugin/mysqlstate"
	"github.com/docker-stateful/docker-stateful/plugin/pgstate"
	"github.com/docker-stateful/docker-stateful/plugin/verifyflow"
)

// PGPASSWORD is taken out of the process environment at start, as REDISCLI_AUTH is
// (redisenv.go): no process the plugin starts inherits it, while the getenv that update
// --verify, snapshot and verify read passwords with still answers it.
func init() {
	redisGetenv = pgstate.TakeEnvPassword(redisGetenv)
	redisGetenv = mysqlstate.TakeEnvPassword(redisGetenv)
}

// pgFlags choose the engine and how docker stateful reaches a service's
// PostgreSQL (update --verify, snapshot, verify).
type pgFlags struct {
	engine       string
	url          string
	passwordFile string
	// MariaDB/MySQL's (mysqlflags.go)
	mysqlURL, mysqlPasswordFile string
}

func addPGFlags(cmd *cobra.Command, p *pgFlags) {
	flags := cmd.Flags()
	flags.StringVar(&p.engine, "engine", "", `The service's database: "redis", "postgres" or "mariadb" (default: from its image, else the port it publishes, 6379, 5432 or 3306)`)
	flags.StringVar(&p.url, "pg-url", "", "Reach PostgreSQL at postgres://[user@]host:port/db[?sslmode=...] (default: postgres@ the service's published port for 5432); no password here, use PGPASSWORD")
	flags.StringVar(&p.passwordFile, "pg-password-file", "", "Read the PostgreSQL password from this file (default: the PGPASSWORD environment variable, else a .pgpass file)")
	_ = cmd.RegisterFlagCompletionFunc("engine", cobra.FixedCompletions([]string{verifyflow.EngineRedis, verifyflow.EnginePostgres, verifyflow.EngineMariaDB}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("pg-url", cobra.NoFileCompletions)
	addMySQLFlags(cmd, p)
}

func (p *pgFlags) changed(flags *pflag.FlagSet) string {
	for _, n := range []string{"engine", "pg-url", "pg-password-file", "mysql-url", "mysql-password-file"} {
		if f := flags.Lookup(n); f != nil && f.Changed {
			return n
		}
	}
	return ""
}

func (p *pgFlags) options() verifyflow.PGOptions {
	return verifyflow.PGOptions{Engine: p.engine, URL: p.url, PasswordFile: p.passwordFile}
}
