package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// security is BROOK_SECURITY's JSON: {"ca": path or "", "mechanism": "", "username": "", "password": ""}.
type security struct {
	CA        string `json:"ca"`
	Mechanism string `json:"mechanism"`
	Username  string `json:"username"`
	Password  string `json:"password"`
}

func securityOpts() ([]kgo.Opt, error) {
	var s security
	if err := json.Unmarshal([]byte(os.Getenv("BROOK_SECURITY")), &s); err != nil {
		return nil, fmt.Errorf("BROOK_SECURITY: %w", err)
	}
	var opts []kgo.Opt
	if s.CA != "" {
		pem, err := os.ReadFile(s.CA)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		opts = append(opts, kgo.DialTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
	}
	var mechanism sasl.Mechanism
	switch s.Mechanism {
	case "":
	case "PLAIN":
		mechanism = plain.Auth{User: s.Username, Pass: s.Password}.AsMechanism()
	case "SCRAM-SHA-256":
		mechanism = scram.Auth{User: s.Username, Pass: s.Password}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		mechanism = scram.Auth{User: s.Username, Pass: s.Password}.AsSha512Mechanism()
	default:
		return nil, fmt.Errorf("unknown mechanism %q", s.Mechanism)
	}
	if mechanism != nil {
		opts = append(opts, kgo.SASL(mechanism))
	}
	return opts, nil
}

// franzSecure produces 10 records over the listener BROOK_SECURITY describes, consumes them in a group,
// commits, and reports the values read and the committed offset.
func franzSecure(bootstrap, name, _ string) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	secure, err := securityOpts()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(secure, kgo.SeedBrokers(bootstrap), kgo.DefaultProduceTopic(name),
		kgo.AllowAutoTopicCreation())...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	for i := 0; i < 10; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("v%d", i))}).FirstErr(); err != nil {
			return nil, err
		}
	}
	group := name + "-g"
	consumer, err := kgo.NewClient(append(secure, kgo.SeedBrokers(bootstrap), kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(name), kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		return nil, err
	}
	var values []string
	for len(values) < 10 && ctx.Err() == nil {
		fetches := consumer.PollFetches(ctx)
		if errs := fetches.Errors(); len(errs) > 0 {
			return nil, errs[0].Err
		}
		fetches.EachRecord(func(r *kgo.Record) { values = append(values, string(r.Value)) })
	}
	if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
		return nil, err
	}
	consumer.Close()
	committed, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	offset, _ := committed.Lookup(name, 0)
	return map[string]any{"values": values, "committed": offset.At}, nil
}
