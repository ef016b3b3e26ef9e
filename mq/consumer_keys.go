package mq

// One message in flight per key: on an ordered subscription, a
// Consumer's deliveries of a key wait behind the one being handled, in
// keyhold.Hold (the hold every driver that orders by key shares).

// claimKey makes d the owner of its key, or queues it behind the owner.
func (c *Consumer) claimKey(d *Delivery) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.keys.Claim(d.Key, d)
}

// nextForKey returns the next queued delivery of d's key, or releases it.
func (c *Consumer) nextForKey(d *Delivery) *Delivery {
	if !c.sub.info.Ordered || d.Key == "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	next, _ := c.keys.Done(d.Key, d)
	return next
}
