package commands

import (
	"github.com/spf13/cobra"

	"github.com/docker-stateful/docker-stateful/plugin/verifyflow"
)

// addMySQLFlags: how docker stateful reaches a service's MariaDB/MySQL
// (update --verify, snapshot, verify), next to the PostgreSQL flags.
func addMySQLFlags(cmd *cobra.Command, p *pgFlags) {
	flags := cmd.Flags()
	flags.StringVar(&p.mysqlURL, "mysql-url", "", "Reach MariaDB/MySQL at mysql://[user@]host:port[?tls=true] (default: root@ the service's published port for 3306); no password here, use MYSQL_PWD")
	flags.StringVar(&p.mysqlPasswordFile, "mysql-password-file", "", "Read the MariaDB/MySQL password from this file (default: the MYSQL_PWD environment variable)")
	_ = cmd.RegisterFlagCompletionFunc("mysql-url", cobra.NoFileCompletions)
}

// wireMySQL gives the flow its MariaDB side, which snapshot, verify and
// update --verify dispatch to for a MariaDB/MySQL service.
func (p *pgFlags) wireMySQL(flow *verifyflow.PGFlow) (*verifyflow.MYFlow, error) {
	my, err := flow.Flow.MySQL(verifyflow.MYOptions{URL: p.mysqlURL, PasswordFile: p.mysqlPasswordFile})
	if err != nil {
		return nil, err
	}
	flow.My = my
	return my, nil
}
