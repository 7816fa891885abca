package main

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"
)

// scramClient is RFC 5802's client side for Sarama (which leaves SCRAM to the application).
type scramClient struct {
	newHash          func() hash.Hash
	user, password   string
	nonce, firstBare string
	serverSignature  []byte
	step             int
}

func (c *scramClient) Begin(user, password, _ string) error {
	raw := make([]byte, 18)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	c.user, c.password, c.nonce, c.step = user, password, base64.RawStdEncoding.EncodeToString(raw), 0
	name := strings.NewReplacer("=", "=3D", ",", "=2C").Replace(user)
	c.firstBare = "n=" + name + ",r=" + c.nonce
	return nil
}

func (c *scramClient) mac(key []byte, message string) []byte {
	m := hmac.New(c.newHash, key)
	m.Write([]byte(message))
	return m.Sum(nil)
}

func (c *scramClient) Step(challenge string) (string, error) {
	c.step++
	switch c.step {
	case 1:
		return "n,," + c.firstBare, nil
	case 2:
		attrs := map[string]string{}
		for _, part := range strings.Split(challenge, ",") {
			if k, v, ok := strings.Cut(part, "="); ok {
				attrs[k] = v
			}
		}
		if !strings.HasPrefix(attrs["r"], c.nonce) {
			return "", fmt.Errorf("server nonce does not extend ours")
		}
		salt, err := base64.StdEncoding.DecodeString(attrs["s"])
		if err != nil {
			return "", err
		}
		iterations, err := strconv.Atoi(attrs["i"])
		if err != nil {
			return "", err
		}
		salted, err := pbkdf2.Key(c.newHash, c.password, salt, iterations, c.newHash().Size())
		if err != nil {
			return "", err
		}
		clientKey := c.mac(salted, "Client Key")
		h := c.newHash()
		h.Write(clientKey)
		storedKey := h.Sum(nil)
		withoutProof := "c=biws,r=" + attrs["r"]
		authMessage := c.firstBare + "," + challenge + "," + withoutProof
		signature := c.mac(storedKey, authMessage)
		proof := make([]byte, len(clientKey))
		for i := range clientKey {
			proof[i] = clientKey[i] ^ signature[i]
		}
		c.serverSignature = c.mac(c.mac(salted, "Server Key"), authMessage)
		return withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof), nil
	default:
		if challenge != "v="+base64.StdEncoding.EncodeToString(c.serverSignature) {
			return "", fmt.Errorf("server signature does not verify: %q", challenge)
		}
		return "", nil
	}
}

func (c *scramClient) Done() bool { return c.step >= 3 }

// saramaSecureConfig applies BROOK_SECURITY (see franz_secure.go) to Sarama's configuration.
func saramaSecureConfig(version string) (*sarama.Config, error) {
	conf, err := saramaConfig(version)
	if err != nil {
		return nil, err
	}
	var s security
	if err := json.Unmarshal([]byte(os.Getenv("BROOK_SECURITY")), &s); err != nil {
		return nil, fmt.Errorf("BROOK_SECURITY: %w", err)
	}
	if s.CA != "" {
		pem, err := os.ReadFile(s.CA)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		conf.Net.TLS.Enable = true
		conf.Net.TLS.Config = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if s.Mechanism != "" {
		conf.Net.SASL.Enable = true
		conf.Net.SASL.Handshake = true
		conf.Net.SASL.Version = sarama.SASLHandshakeV1
		conf.Net.SASL.User, conf.Net.SASL.Password = s.Username, s.Password
		conf.Net.SASL.Mechanism = sarama.SASLMechanism(s.Mechanism)
		switch s.Mechanism {
		case "SCRAM-SHA-256":
			conf.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{newHash: sha256.New} }
		case "SCRAM-SHA-512":
			conf.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{newHash: sha512.New} }
		}
	}
	return conf, nil
}

// saramaSecure produces 10 records over the listener BROOK_SECURITY describes, consumes them in a group with
// synchronous commits, and reports the values read and the group's committed offset.
func saramaSecure(bootstrap, name, version string) (any, error) {
	conf, err := saramaSecureConfig(version)
	if err != nil {
		return nil, err
	}
	if err := saramaCreate(bootstrap, conf, 1, name); err != nil {
		return nil, err
	}
	conf.Producer.Return.Successes = true
	conf.Producer.RequiredAcks = sarama.WaitForAll
	producer, err := sarama.NewSyncProducer([]string{bootstrap}, conf)
	if err != nil {
		return nil, err
	}
	for i := 0; i < 10; i++ {
		if _, _, err := producer.SendMessage(&sarama.ProducerMessage{Topic: name, Value: sarama.StringEncoder(fmt.Sprintf("v%d", i))}); err != nil {
			producer.Close()
			return nil, err
		}
	}
	producer.Close()
	group := name + "-g"
	conf.Consumer.Offsets.Initial = sarama.OffsetOldest
	conf.Consumer.Offsets.AutoCommit.Enable = false
	cg, err := sarama.NewConsumerGroup([]string{bootstrap}, group, conf)
	if err != nil {
		return nil, err
	}
	h := &groupHandler{claims: map[int32]bool{}, progress: make(chan struct{}, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	go func() {
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{name}, h); err != nil {
				return
			}
		}
	}()
	for h.count() < 10 && ctx.Err() == nil {
		select {
		case <-h.progress:
		case <-ctx.Done():
		}
	}
	cancel()
	if err := cg.Close(); err != nil {
		return nil, err
	}
	var values []string
	for _, r := range h.records {
		values = append(values, r.Value)
	}
	adm, err := sarama.NewClusterAdmin([]string{bootstrap}, conf)
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	offsets, err := adm.ListConsumerGroupOffsets(group, map[string][]int32{name: {0}})
	if err != nil {
		return nil, err
	}
	return map[string]any{"values": values, "committed": offsets.GetBlock(name, 0).Offset}, nil
}
