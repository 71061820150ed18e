package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"google.golang.org/protobuf/proto"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

// mqttLink is one device as an MQTT client publishing each batch (the
// same protobuf TelemetryBatch a stream carries) at QoS 1 to
// ingestbench/<device>: the broker's PUBACK is the ack.
type mqttLink struct {
	c     mqtt.Client
	topic string
	batch *ingestgatev1.TelemetryBatch
	inflight[pub]
}

type pub struct {
	seq uint64
	tok mqtt.Token
}

// openMQTT connects devices to the broker at raw (mqtt://user:pass@host:port).
func openMQTT(raw string, batch, window int) (func(ctx context.Context, id string) (link, error), error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "mqtt" || u.Host == "" {
		return nil, errors.New("--mqtt: want mqtt://user:password@host:port") // raw holds the password
	}
	if err := loopback(u.Host); err != nil {
		return nil, err
	}
	broker := "tcp://" + u.Host
	user := u.User.Username()
	pass, _ := u.User.Password()
	return func(ctx context.Context, id string) (link, error) {
		opts := mqtt.NewClientOptions().AddBroker(broker).SetClientID(id).SetUsername(user).SetPassword(pass).
			SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).
			// Acks are matched in publish order below; paho need not
			// order deliveries to handlers (there are none).
			SetOrderMatters(false).SetConnectTimeout(10 * time.Second).SetWriteTimeout(10 * time.Second)
		c := mqtt.NewClient(opts)
		tok := c.Connect()
		select {
		case <-tok.Done():
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if err := tok.Error(); err != nil {
			return nil, fmt.Errorf("mqtt connect: %w", err)
		}
		return &mqttLink{c: c, topic: "ingestbench/" + id, batch: &ingestgatev1.TelemetryBatch{Records: records(batch)}, inflight: newInflight[pub](window)}, nil
	}, nil
}

func (m *mqttLink) send(seq uint64) error {
	m.batch.Seq = seq
	payload, err := proto.Marshal(m.batch)
	if err != nil {
		return err
	}
	m.push(pub{seq: seq, tok: m.c.Publish(m.topic, 1, false, payload)})
	return nil
}

func (m *mqttLink) next() (uint64, bool, error) {
	p, err := m.oldest()
	if err != nil {
		return 0, false, err
	}
	select {
	case <-p.tok.Done():
	case <-m.closed:
		return 0, false, errClosed
	}
	if err := p.tok.Error(); err != nil {
		return 0, false, fmt.Errorf("mqtt publish: %w", err)
	}
	return p.seq, false, nil
}

func (m *mqttLink) close() {
	m.inflight.close()
	m.c.Disconnect(0)
}
