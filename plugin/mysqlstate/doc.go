// Package mysqlstate is the MariaDB/MySQL side of docker-stateful: connect
// (mysql://user@host:port, MYSQL_PWD or a password file, root by default),
// the preflight naming missing privileges, the cut, a server-side
// fingerprint of every table of every non-system database, and the check
// of a server against a snapshot.
//
// The cut is FLUSH TABLES WITH READ LOCK held by the plugin's own session:
// it blocks writes of every session, SUPER and READ_ONLY ADMIN included
// (read_only and super_read_only do not stop a SUPER session on MariaDB),
// waits for the statements already writing, and is released by the server
// itself when the session ends: a killed plugin never leaves the database
// read-only. The per-server "one cut at a time" lock is GET_LOCK on the same
// session, taken before writes are held.
//
// The fingerprint is computed by the server, one query per table, in the
// manner of pt-table-checksum: each row's columns (with a NULL marker per
// column, so that NULL and the empty string differ) are joined with CONCAT_WS and hashed
// (the first 64 bits of MD5); the table's digest is COUNT(*), BIT_XOR and
// SUM of the row hashes (SUM keeps two equal rows of a table without a
// primary key from cancelling out in the XOR). Views are named with a
// digest of their definition; MEMORY tables are named but not compared
// (they are empty after every restart by design).
//
// It imports no other adapter (plugin/deps_test.go): only the driver and
// the shared snapshot store.
package mysqlstate
