package mysqlstate

import (
	"context"
	"testing"
	"time"

	"github.com/docker-stateful/docker-stateful/plugin/mysqlstate/mysqltest"
)

// BenchmarkFingerprintVsChecksumTable: the fingerprint's rows/s next to the
// server's own CHECKSUM TABLE on the same tables in the same run
// (go test -run - -bench FingerprintVsChecksum ./plugin/mysqlstate).
func BenchmarkFingerprintVsChecksumTable(b *testing.B) {
	s := mysqltest.Start(b)
	c, err := func() (*Client, error) {
		o, _ := ParseURL("mysql://root@" + s.Addr())
		o.Password = mysqltest.Password
		return NewClient(o)
	}()
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	conn, _ := c.DB().Conn(ctx)
	for _, q := range []string{
		"SET SESSION max_recursive_iterations = 10000000",
		"CREATE DATABASE bench",
		"CREATE TABLE bench.t (id INT PRIMARY KEY, name VARCHAR(50), blob_col BLOB, doc JSON, n DOUBLE)",
		"INSERT INTO bench.t WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM s WHERE n < 200000) SELECT n, CONCAT('name', n), UNHEX(MD5(n)), JSON_OBJECT('n', n), n / 7 FROM s",
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	conn.Close()
	const rows = 200000
	var fp, ck time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		sum, err := c.Fingerprint(ctx, nil)
		if err != nil || sum.Rows != rows {
			b.Fatalf("%v %+v", err, sum)
		}
		t1 := time.Now()
		if err := c.ChecksumTable(ctx, sum); err != nil {
			b.Fatal(err)
		}
		fp, ck = fp+t1.Sub(t0), ck+time.Since(t1)
	}
	b.ReportMetric(float64(rows*b.N)/fp.Seconds(), "fingerprint-rows/s")
	b.ReportMetric(float64(rows*b.N)/ck.Seconds(), "checksum-table-rows/s")
}
