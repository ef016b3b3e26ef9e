package kafka

import (
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

func BenchmarkScratchMQConsumeOnly(b *testing.B) {
	c, _ := kfake.NewCluster(kfake.NumBrokers(1))
	defer c.Close()
	addr := c.ListenAddrs()[0]
	seed, _ := kgo.NewClient(kgo.SeedBrokers(addr))
	defer seed.Close()
	adm := kadm.NewClient(seed)
	body := make([]byte, 1024)
	const n = 200000
	adm.CreateTopic(context.Background(), 3, 1, nil, "pre")
	rawProduce(b, addr, "pre", body, n, 1000)
	b.ResetTimer()
	b.ReportAllocs()
	for i := range b.N {
		ctx := context.Background()
		sub, err := mq.OpenSubscription(ctx, "kafka://"+addr+"/pre?subscription="+fmt.Sprint("g", i)+"&start=earliest", mq.WithPrefetch(500))
		if err != nil {
			b.Fatal(err)
		}
		got := 0
		for got < n {
			ds, err := sub.ReceiveBatch(ctx, 500)
			if err != nil {
				b.Fatal(err)
			}
			for _, d := range ds {
				d.Ack()
			}
			got += len(ds)
		}
		sub.Shutdown(ctx)
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkScratchRawConsumeOnly(b *testing.B) {
	c, _ := kfake.NewCluster(kfake.NumBrokers(1))
	defer c.Close()
	addr := c.ListenAddrs()[0]
	seed, _ := kgo.NewClient(kgo.SeedBrokers(addr))
	defer seed.Close()
	adm := kadm.NewClient(seed)
	body := make([]byte, 1024)
	const n = 200000
	adm.CreateTopic(context.Background(), 3, 1, nil, "pre")
	rawProduce(b, addr, "pre", body, n, 1000)
	b.ResetTimer()
	b.ReportAllocs()
	for i := range b.N {
		_ = i
		rawConsume(b, addr, "pre", n)
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkScratchDrvConsumeOnly(b *testing.B) {
	c, _ := kfake.NewCluster(kfake.NumBrokers(1))
	defer c.Close()
	addr := c.ListenAddrs()[0]
	seed, _ := kgo.NewClient(kgo.SeedBrokers(addr))
	defer seed.Close()
	adm := kadm.NewClient(seed)
	body := make([]byte, 1024)
	const n = 200000
	adm.CreateTopic(context.Background(), 3, 1, nil, "pre")
	rawProduce(b, addr, "pre", body, n, 1000)
	b.ResetTimer()
	b.ReportAllocs()
	for i := range b.N {
		ctx := context.Background()
		ds, err := openSubscription(ctx, seed, false, "pre", fmt.Sprint("d", i), &SubscriptionOptions{Start: StartEarliest})
		if err != nil {
			b.Fatal(err)
		}
		dst := make([]driver.Message, 500)
		ids := make([]driver.AckID, 1)
		got := 0
		for got < n {
			k, err := ds.ReceiveBatch(ctx, dst)
			if err != nil {
				b.Fatal(err)
			}
			for j := range k {
				ids[0] = dst[j].AckID
				ds.Ack(ctx, ids)
			}
			got += k
		}
		ds.Close()
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "msgs/s")
}
