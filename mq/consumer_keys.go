package mq

// One message in flight per key: on an ordered subscription, a
// Consumer's deliveries of a key wait behind the one being handled.

// claimKey makes d the owner of its key, or queues it behind the owner.
func (c *Consumer) claimKey(d *Delivery) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if q, busy := c.keys[d.Key]; busy {
		c.keys[d.Key] = append(q, d)
		return false
	}
	c.keys[d.Key] = nil
	return true
}

// nextForKey returns the next queued delivery of d's key, or releases it.
func (c *Consumer) nextForKey(d *Delivery) *Delivery {
	if !c.sub.info.Ordered || d.Key == "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.keys[d.Key]
	if len(q) == 0 {
		delete(c.keys, d.Key)
		return nil
	}
	c.keys[d.Key] = q[1:]
	return q[0]
}
