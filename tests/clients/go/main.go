// brookgo drives Go Kafka clients (franz-go with kadm, IBM Sarama) against a running brook for the pytest
// suite in tests/clients/test_go_clients.py. One scenario per invocation:
//
//	brookgo <scenario> <bootstrap> <name> [sarama version: default|max]
//
// It prints one JSON object on stdout (what the clients saw: records, offsets, error strings) and exits 0;
// the Python test asserts on that report. Client or setup failures print to stderr and exit 1.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"
)

// record is one consumed (or produced) record as the report shows it.
type record struct {
	Topic     string            `json:"topic"`
	Partition int32             `json:"partition"`
	Offset    int64             `json:"offset"`
	Key       string            `json:"key"`
	Value     string            `json:"value"`
	Headers   map[string]string `json:"headers"`
	Timestamp int64             `json:"timestamp_ms"`
}

// scenarioTimeout bounds every scenario: a client that hangs fails the test instead of stalling it.
const scenarioTimeout = 90 * time.Second

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: brookgo <scenario> <bootstrap> <name> [default|max]")
		os.Exit(2)
	}
	scenario, bootstrap, name := os.Args[1], os.Args[2], os.Args[3]
	version := "default"
	if len(os.Args) > 4 {
		version = os.Args[4]
	}
	scenarios := map[string]func(bootstrap, name, version string) (any, error){
		"franz-produce":  franzProduce,
		"franz-group":    franzGroup,
		"franz-admin":    franzAdmin,
		"franz-secure":   franzSecure,
		"franz-txn":      franzTransactions,
		"sarama-produce": saramaProduce,
		"sarama-group":   saramaGroup,
		"sarama-admin":   saramaAdmin,
		"sarama-secure":  saramaSecure,
	}
	run, ok := scenarios[scenario]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown scenario %q\n", scenario)
		os.Exit(2)
	}
	go func() {
		time.Sleep(scenarioTimeout)
		fmt.Fprintf(os.Stderr, "scenario %s did not finish within %s\n", scenario, scenarioTimeout)
		os.Exit(1)
	}()
	report, err := run(bootstrap, name, version)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", scenario, err)
		os.Exit(1)
	}
	out, err := json.Marshal(report)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(string(out))
}

// errText is "" for nil, so the report's error fields compare as strings.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func sortRecords(rs []record) {
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].Topic != rs[j].Topic {
			return rs[i].Topic < rs[j].Topic
		}
		if rs[i].Partition != rs[j].Partition {
			return rs[i].Partition < rs[j].Partition
		}
		return rs[i].Offset < rs[j].Offset
	})
}

var codecNames = []string{"none", "gzip", "snappy", "lz4", "zstd"}
