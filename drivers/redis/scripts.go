package redis

import goredis "github.com/redis/go-redis/v9"

// The Lua scripts that make each multi-step operation atomic on the
// server. Each one runs as one EVALSHA (go-redis falls back to EVAL on
// NOSCRIPT, for example after a restart of the server emptied its script
// cache).
//
// Entry fields (see the package doc): "b" body, "k" key, "d" dedup ID,
// "a.NAME" attributes; copies made by a nack, a lease expiry or a delay
// also carry "i" (the message ID: the stream ID of the first entry), "t"
// (the publish time in Unix ms) and "n" (the attempts already made).
// A delayed or parked entry waits in a sorted set or a list as its
// field-value array packed with MessagePack (Redis's bundled cmsgpack,
// binary-safe and much faster than string handling in Lua), scored by its
// due time in the server's Unix ms.

// luaLib holds the helpers every script shares.
const luaLib = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function enc(f) return cmsgpack.pack(f) end
local function dec(s) return cmsgpack.unpack(s) end
-- copy returns the fields of entry (id, f) for a new entry: the user's
-- fields, then i, t and n (attempts made).
local function copy(id, f, n)
  local out, mid, pub = {}, id, string.match(id, '^(%d+)')
  for i = 1, #f, 2 do
    local k = f[i]
    if k == 'i' then mid = f[i + 1]
    elseif k == 't' then pub = f[i + 1]
    elseif k ~= 'n' then out[#out + 1] = k; out[#out + 1] = f[i + 1] end
  end
  out[#out + 1] = 'i'; out[#out + 1] = mid
  out[#out + 1] = 't'; out[#out + 1] = pub
  out[#out + 1] = 'n'; out[#out + 1] = tostring(n)
  return out
end
local function field(f, name)
  for i = 1, #f, 2 do if f[i] == name then return f[i + 1] end end
  return nil
end
-- dead returns the fields of the dead-letter entry of (id, f).
local function dead(f, reason, attempts, source)
  local out = {}
  for i = 1, #f, 2 do
    local k = f[i]
    if k ~= 'n' and k ~= 'i' and k ~= 't' and k ~= 'a.portmq-dead-letter-reason' and k ~= 'a.portmq-attempts' and k ~= 'a.portmq-source' then
      out[#out + 1] = k; out[#out + 1] = f[i + 1]
    end
  end
  out[#out + 1] = 'a.portmq-dead-letter-reason'; out[#out + 1] = reason
  out[#out + 1] = 'a.portmq-attempts'; out[#out + 1] = tostring(attempts)
  out[#out + 1] = 'a.portmq-source'; out[#out + 1] = source
  return out
end
-- On an ordered subscription the hash OWNERS maps each key to the
-- message ID holding it, and OWNERS:ids maps the message ID back to the
-- key (so that a holder trimmed from the stream, whose key is gone with
-- its fields, can still let go of it).
local function own(owners, key, mid)
  redis.call('HSET', owners, key, mid)
  redis.call('HSET', owners .. ':ids', mid, key)
end
-- release hands the key of an ordered subscription from message mid to
-- the next parked entry, which goes to the retry stream (KEYS: owners,
-- park prefix, retry stream). A nil key is looked up by mid.
local function release(owners, park, retry, key, mid)
  if owners == '' then return end
  if key == nil then key = redis.call('HGET', owners .. ':ids', mid) end
  if not key then return end
  if redis.call('HGET', owners, key) ~= mid then return end
  redis.call('HDEL', owners .. ':ids', mid)
  local nxt = redis.call('LPOP', park .. key)
  if not nxt then
    redis.call('HDEL', owners, key)
    return
  end
  local f = dec(nxt)
  own(owners, key, field(f, 'i'))
  redis.call('XADD', retry, '*', unpack(f))
end
`

// ackScript acks deliveries. KEYS: main stream, retry stream, owners hash
// and park-list prefix (both the main stream again when unordered). ARGV:
// group, ordered ('1'), consumer, the lowest and highest ID acked on the
// main stream, the same on the retry stream, then per delivery: ID,
// stream ('0' main, '1' retry). Returns 1 per acked delivery, 0 per
// delivery that was no longer pending for this consumer (its lease ended
// and it was reclaimed).
//
// Unordered, each stream's IDs are checked with one XPENDING over their
// range for this consumer and acked with one XACK (and the retry stream's
// entries deleted with one XDEL); ordered, each delivery is acked on its
// own, with the release of its key. (Lua string matching costs about 2 µs
// a call here, so the ranges come from the client.)
var ackScript = goredis.NewScript(luaLib + `
local group, ordered, consumer = ARGV[1], ARGV[2] == '1', ARGV[3]
local r = {}
-- bulk acks the items (indexes into ARGV) of stream key, whose IDs lie
-- in [lo, hi].
local function bulk(key, items, retry, lo, hi)
  if #items == 0 then return end
  local limit = 2 * #items + 16
  local p = redis.call('XPENDING', key, group, lo, hi, limit, consumer)
  local pending = {}
  if #p < limit then
    for _, x in ipairs(p) do pending[x[1]] = true end
  else
    for _, i in ipairs(items) do
      local q = redis.call('XPENDING', key, group, ARGV[i], ARGV[i], 1, consumer)
      if q[1] then pending[ARGV[i]] = true end
    end
  end
  local ids = {}
  for _, i in ipairs(items) do
    if pending[ARGV[i]] then
      ids[#ids + 1] = ARGV[i]
      pending[ARGV[i]] = nil -- an ID given twice is acked once
      r[(i - 6) / 2] = 1
    end
  end
  if #ids > 0 then
    redis.call('XACK', key, group, unpack(ids))
    if retry then redis.call('XDEL', key, unpack(ids)) end
  end
end
local main, retry = {}, {}
for i = 8, #ARGV, 2 do
  r[(i - 6) / 2] = 0
  if ordered then
    local id, isretry = ARGV[i], ARGV[i + 1] == '1'
    local key = KEYS[1]
    if isretry then key = KEYS[2] end
    local ok = redis.call('XACK', key, group, id)
    if ok == 1 then
      local e = redis.call('XRANGE', key, id, id)
      if #e > 0 then
        local f = e[1][2]
        release(KEYS[3], KEYS[4], KEYS[2], field(f, 'k'), field(f, 'i') or id)
      end
      if isretry then redis.call('XDEL', key, id) end
    end
    r[(i - 6) / 2] = ok
  elseif ARGV[i + 1] == '1' then
    retry[#retry + 1] = i
  else
    main[#main + 1] = i
  end
end
bulk(KEYS[1], main, false, ARGV[4], ARGV[5])
bulk(KEYS[2], retry, true, ARGV[6], ARGV[7])
return r
`)

// settleScript nacks or dead-letters deliveries, each atomically with the
// XACK of the original. KEYS: main stream, retry stream, delay set,
// dead-letter stream (the main stream again when none), owners hash (the
// main stream again when unordered), park-list prefix. ARGV: group, delay
// ms, max attempts (0 none), has dead-letter ('1'), source, ordered ('1'),
// then per delivery: ID, stream ('0' main, '1' retry), attempts made,
// dead-letter reason (” for a nack). Returns per delivery: 0 not pending
// (lease ended), 1 nacked, 2 dead-lettered, 3 acked but its entry was
// trimmed from the stream (the message is lost).
var settleScript = goredis.NewScript(luaLib + `
local group, delay, maxa, hasdlq, source, ordered = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1', ARGV[5], ARGV[6] == '1'
local now = nil
local r = {}
for i = 7, #ARGV, 4 do
  local id, retry, n, reason = ARGV[i], ARGV[i + 1] == '1', tonumber(ARGV[i + 2]), ARGV[i + 3]
  local key = KEYS[1]
  if retry then key = KEYS[2] end
  if redis.call('XACK', key, group, id) == 0 then
    r[#r + 1] = 0
  else
    local e = redis.call('XRANGE', key, id, id)
    if retry then redis.call('XDEL', key, id) end
    if #e == 0 then
      -- Trimmed: only an entry of the topic stream can be, and its
      -- message ID is its stream ID.
      if ordered and not retry then release(KEYS[5], KEYS[6], KEYS[2], nil, id) end
      r[#r + 1] = 3
    else
      local f = e[1][2]
      if reason == '' and maxa > 0 and n >= maxa then
        reason = 'max attempts (' .. maxa .. ') reached'
      end
      if reason ~= '' and hasdlq then
        redis.call('XADD', KEYS[4], '*', unpack(dead(f, reason, n, source)))
        if ordered then release(KEYS[5], KEYS[6], KEYS[2], field(f, 'k'), field(f, 'i') or id) end
        r[#r + 1] = 2
      elseif delay <= 0 then
        redis.call('XADD', KEYS[2], '*', unpack(copy(id, f, n)))
        r[#r + 1] = 1
      else
        if now == nil then now = now_ms() end
        redis.call('ZADD', KEYS[3], now + delay, enc(copy(id, f, n)))
        r[#r + 1] = 1
      end
    end
  end
end
return r
`)

// reapScript moves entries whose lease ended (pending longer than the
// lease) out of one stream of a group: each goes to the retry stream with
// its attempts (the entry's own plus the pending entry's delivery count,
// read with XPENDING), or to the dead-letter stream when that reaches max
// attempts, atomically with its XACK. KEYS: the stream reaped, retry
// stream, dead-letter stream (the stream reaped again when none), owners
// hash and park prefix (both the stream reaped again when unordered).
// ARGV: group, reaper consumer name, lease ms, cursor, count, max
// attempts, has dead-letter ('1'), source, unused, ordered ('1'). Returns
// {next cursor, moved, dead, trimmed}: trimmed counts entries that were
// pending but had been trimmed from the stream (lost).
var reapScript = goredis.NewScript(luaLib + reclaimLib + `
local group, reaper, lease, cursor, count = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local res = redis.call('XAUTOCLAIM', KEYS[1], group, reaper, lease, cursor, 'COUNT', count, 'JUSTID')
local moved, deadn, trimmed = 0, 0, 0
if res[3] then
  trimmed = #res[3]
  if ARGV[10] == '1' and KEYS[1] ~= KEYS[2] then
    for _, id in ipairs(res[3]) do release(KEYS[4], KEYS[5], KEYS[2], nil, id) end
  end
end
for _, id in ipairs(res[2]) do
  local p = redis.call('XPENDING', KEYS[1], group, id, id, 1)
  local cnt = 1
  if p[1] then cnt = tonumber(p[1][4]) end
  local r = reclaim(KEYS[1], id, cnt, 'lease expired')
  if r == 1 then moved = moved + 1 elseif r == 2 then deadn = deadn + 1 else trimmed = trimmed + 1 end
end
return {res[1], moved, deadn, trimmed}
`)

// reclaimLib moves one pending entry of stream s (KEYS[1] or KEYS[2])
// with cnt deliveries to the retry stream (or the dead-letter stream at
// max attempts), atomically with its XACK. It reads ARGV[6..10] as
// reapScript and handBackScript pass them. Returns 1 moved, 2
// dead-lettered, 3 trimmed (lost).
const reclaimLib = `
local function reclaim(s, id, cnt, why)
  local group = ARGV[1]
  local maxa, hasdlq, source, ordered = tonumber(ARGV[6]), ARGV[7] == '1', ARGV[8], ARGV[10] == '1'
  local e = redis.call('XRANGE', s, id, id)
  redis.call('XACK', s, group, id)
  if s == KEYS[2] then redis.call('XDEL', s, id) end
  if #e == 0 then
    if ordered and s ~= KEYS[2] then release(KEYS[4], KEYS[5], KEYS[2], nil, id) end
    return 3
  end
  local f = e[1][2]
  local n = tonumber(field(f, 'n') or '0') + cnt
  if maxa > 0 and n >= maxa and hasdlq then
    redis.call('XADD', KEYS[3], '*', unpack(dead(f, why .. ' ' .. n .. ' times: max attempts (' .. maxa .. ') reached', n, source)))
    if ordered then release(KEYS[4], KEYS[5], KEYS[2], field(f, 'k'), field(f, 'i') or id) end
    return 2
  end
  redis.call('XADD', KEYS[2], '*', unpack(copy(id, f, n)))
  return 1
end
`

// handBackScript hands back every entry a closing consumer holds (on the
// topic stream and the retry stream) as reapScript does with expired ones:
// each delivery counts as an attempt. KEYS: topic stream, retry stream,
// dead-letter stream, owners, park prefix (as for reapScript). ARGV:
// group, consumer, unused (3-5), then as reapScript's ARGV[6..10].
// Returns the number of entries handed back.
var handBackScript = goredis.NewScript(luaLib + reclaimLib + `
local total = 0
for k = 1, 2 do
  local s = KEYS[k]
  local p = redis.call('XPENDING', s, ARGV[1], '-', '+', 10000, ARGV[2])
  for _, x in ipairs(p) do
    reclaim(s, x[1], tonumber(x[4]), 'handed back by closed receivers')
    total = total + 1
  end
end
return total
`)

// moveScript moves due entries of a delay set to their stream. KEYS: delay
// set, destination stream. ARGV: most entries to move. Returns {moved,
// score of the earliest remaining entry or -1, server time in ms}.
var moveScript = goredis.NewScript(luaLib + `
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, m in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', unpack(dec(m)))
  redis.call('ZREM', KEYS[1], m)
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local score = -1
if nxt[2] then score = tonumber(nxt[2]) end
return {#due, score, now}
`)

// sendScript sends one message that needs more than an XADD: a dedup ID
// within a window (SET NX PX, then the send) or a delay (into the topic's
// delay set). KEYS: stream, delay set, dedup key (the stream again when
// none). ARGV: dedup window ms (0 none), delay ms (0 none), generated
// message ID for a delayed message, trim mode (”, 'MAXLEN' or 'MINID'),
// trim value (for MINID: ms of retention), then the fields. Returns {1,
// ID} when sent, {0, ID of the first send} for a duplicate.
var sendScript = goredis.NewScript(luaLib + `
local window, delay, genid, trim, trimv = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
if window > 0 then
  if not redis.call('SET', KEYS[3], '', 'NX', 'PX', window) then
    return {0, redis.call('GET', KEYS[3])}
  end
end
local f = {}
for i = 6, #ARGV do f[#f + 1] = ARGV[i] end
local id
if delay > 0 then
  local now = now_ms()
  f[#f + 1] = 'i'; f[#f + 1] = genid
  f[#f + 1] = 't'; f[#f + 1] = tostring(now)
  redis.call('ZADD', KEYS[2], now + delay, enc(f))
  id = genid
elseif trim == 'MAXLEN' then
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', trimv, '*', unpack(f))
elseif trim == 'MINID' then
  id = redis.call('XADD', KEYS[1], 'MINID', '~', tostring(now_ms() - tonumber(trimv)), '*', unpack(f))
else
  id = redis.call('XADD', KEYS[1], '*', unpack(f))
end
if window > 0 then redis.call('SET', KEYS[3], id, 'KEEPTTL') end
return {1, id}
`)

// admitScript decides, on an ordered subscription, which read entries
// may be delivered: an entry whose key another message holds is parked
// (its fields appended to the key's park list) and acked; the others take
// or keep their key. KEYS: main stream, retry stream, owners hash, park
// prefix. ARGV: group, then per entry: ID, stream ('0'/'1'), key, message
// ID. Returns 1 (deliver) or 0 (parked) per entry.
var admitScript = goredis.NewScript(luaLib + `
local group = ARGV[1]
local r = {}
for i = 2, #ARGV, 4 do
  local id, retry, key, mid = ARGV[i], ARGV[i + 1] == '1', ARGV[i + 2], ARGV[i + 3]
  local owner = redis.call('HGET', KEYS[3], key)
  if not owner or owner == mid then
    own(KEYS[3], key, mid)
    r[#r + 1] = 1
  else
    local s = KEYS[1]
    if retry then s = KEYS[2] end
    local e = redis.call('XRANGE', s, id, id)
    if #e > 0 then
      local f = e[1][2]
      local n = tonumber(field(f, 'n') or '0')
      redis.call('RPUSH', KEYS[4] .. key, enc(copy(id, f, n)))
    end
    redis.call('XACK', s, group, id)
    if retry then redis.call('XDEL', s, id) end
    r[#r + 1] = 0
  end
end
return r
`)

// createTopicScript creates an empty stream. KEYS: stream. Returns 0 when
// it exists already.
var createTopicScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('XGROUP', 'CREATE', KEYS[1], 'portmq-create', '$', 'MKSTREAM')
redis.call('XGROUP', 'DESTROY', KEYS[1], 'portmq-create')
return 1
`)

// closeConsumerScript deletes a consumer from a group's streams when it
// holds no pending entry (so that closed handles do not pile up in XINFO
// CONSUMERS; a consumer with pending entries stays, for the reaper).
// KEYS: main stream, retry stream. ARGV: group, consumer.
var closeConsumerScript = goredis.NewScript(`
for _, s in ipairs(KEYS) do
  if redis.call('EXISTS', s) == 1 then
    local p = redis.call('XPENDING', s, ARGV[1], '-', '+', 1, ARGV[2])
    if #p == 0 then redis.call('XGROUP', 'DELCONSUMER', s, ARGV[1], ARGV[2]) end
  end
end
return 1
`)
