package redis

import (
	"context"

	goredis "github.com/redis/go-redis/v9"
)

// PublishKeysChanged implements core.KeyNotifier.
func (c *Client) PublishKeysChanged(ctx context.Context) error {
	if err := c.rdb.Publish(ctx, keysChannel, "changed").Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// SubscribeKeysChanged implements core.KeyNotifier. The channel has room for
// one value and notices arriving while it is full merge into it, so a slow
// reader never stalls the subscription and one reload covers any burst.
//
// Redis keeps no pub/sub backlog: a notice sent while this server was
// disconnected is lost. So a value is also delivered each time the
// subscription is established, the first time included (which also covers a
// change made between the caller's initial load and the subscription). The
// caller then reloads the keys and misses nothing.
//
// The channel is closed when ctx ends or the client is closed. Redis outages
// do not close it: go-redis reconnects and resubscribes, with a periodic ping
// to notice a connection that died silently.
func (c *Client) SubscribeKeysChanged(ctx context.Context) <-chan struct{} {
	out := make(chan struct{}, 1)
	ps := c.rdb.Subscribe(ctx, keysChannel) // an error here is retried by the receive loop
	in := ps.ChannelWithSubscriptions(goredis.WithChannelSize(1))
	go func() {
		defer func() {
			_ = ps.Close()
			close(out)
			// go-redis's reader may be waiting (up to a minute) to hand us a
			// message; draining lets it see the close and exit now.
			for range in {
			}
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-in:
				if !ok {
					return
				}
				if s, isSub := m.(*goredis.Subscription); isSub && s.Kind != "subscribe" {
					continue
				}
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
	}()
	return out
}
