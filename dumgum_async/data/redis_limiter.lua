-- The rate limit shared through Redis (dumgum_async._redis): one atomic GCRA per
-- acquire, on Redis's own clock, with the shared pause and the adaptive shared rate.
--
-- KEYS[1] tat: the GCRA "theoretical arrival time" (us, Redis clock) of the next slot.
-- KEYS[2] pause_until: no slot before this time (us, Redis clock).
-- KEYS[3] log: sorted set of the last `window_n` reserved slots (only when window_n > 0).
-- KEYS[4] rate: hash of the adaptive shared rate: `rate` (per window), `changed` (us,
-- Redis clock, of its last change), `ceiling` (per window, or absent).
-- ARGV: interval, tolerance, window_n, window (us except window_n), pause_for (us, 0 for
-- none), mode ("acquire" or "sync"), start (the adaptive rate while none is stored;
-- 0 for a fixed rate), proposal ("none", "cut" or "raise"), the proposed rate, its
-- ceiling ('' for none), lead (us: how long the answer takes to reach the caller, 0
-- for "sync"), then pairs (offset from now in us, member) of slots this
-- process granted while Redis was away ("seeds").
-- "acquire" returns {now, slot, rate, ceiling, changed}; "sync" only extends the pause and
-- returns {now, pause_until}; times in us of Redis's clock, rates as strings ('' for
-- no ceiling, and for a fixed rate).
--
-- Times go through string.format('%.17g'): Redis turns Lua numbers into strings with
-- 14 significant digits, which would round a us epoch (16 digits) to 100 us.
if redis.replicate_commands then pcall(redis.replicate_commands) end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local window_n = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local pause_for = tonumber(ARGV[5])

local raw = redis.call('GET', KEYS[2])
local pause_until = raw and tonumber(raw) or 0
if pause_for > 0 and now + pause_for > pause_until then
    -- Only ever extended: a short Retry-After never cuts a longer pause short.
    pause_until = now + pause_for
    redis.call('SET', KEYS[2], string.format('%.17g', pause_until),
               'PX', math.ceil(pause_for / 1000) + 1000)
end
if ARGV[6] == 'sync' then
    return {now, math.ceil(pause_until)}
end

local start = tonumber(ARGV[7])
local rate_text, ceiling_text, changed_text = '', '', ''
if start > 0 then
    -- The adaptive rate is one for every process: a cut only ever lowers it, and a
    -- raise is taken only if nobody changed it within the last window, so N
    -- processes do not each add their step.
    local stored = redis.call('HMGET', KEYS[4], 'rate', 'changed', 'ceiling')
    local rate = tonumber(stored[1])
    if not rate or not (rate > 0) then rate = start end  -- absent, or not a rate
    local changed = tonumber(stored[2]) or 0
    ceiling_text = stored[3] or ''
    local proposed = tonumber(ARGV[9])
    local kind = ARGV[8]
    if (kind == 'cut' and proposed < rate)
            or (kind == 'raise' and proposed > rate and now - changed >= window) then
        rate = proposed
        changed = now
        if ARGV[10] ~= '' then ceiling_text = ARGV[10] end
    end
    rate_text = string.format('%.17g', rate)
    changed_text = string.format('%.17g', changed)
    redis.call('HSET', KEYS[4], 'rate', rate_text, 'changed', changed_text, 'ceiling', ceiling_text)
    -- Longer-lived than the schedule: a worker that returns after a quiet hour
    -- starts at the rate found, not at `start` again.
    redis.call('PEXPIRE', KEYS[4], 3600000)
    -- Judged at the shared rate: the grid's spacing, and the log of the last
    -- floor(rate) slots (always kept: the rate may be fractional, and a cut must
    -- not let the slots granted at the old rate crowd a window at the new one).
    interval = window / rate
    tolerance = 0
    window_n = math.max(math.floor(rate), 1)
end

raw = redis.call('GET', KEYS[1])
local tat = raw and tonumber(raw) or now
-- Seeds are offsets from the moment the caller sent this script: Redis reads `now`
-- a little later, so they land a little late, which errs on the safe side.
for i = 12, #ARGV, 2 do
    local seed = now + tonumber(ARGV[i])
    tat = math.max(tat, seed + interval)
    if window_n > 0 then
        redis.call('ZADD', KEYS[3], string.format('%.17g', seed), ARGV[i + 1])
    end
end
-- GCRA: the slot may be up to `tolerance` (burst - 1 intervals) ahead of the schedule.
-- Never sooner than `lead` after now: the caller reads the answer about that late,
-- and a slot it could reach only late would be given up (or, sent anyway, crowd the
-- next window at the API). A later slot only spaces the schedule more; judging an
-- immediate grant from the answer's arrival instead would keep the early stamp
-- while the request leaves a trip later, closer to the next slot than the limit.
local slot = math.max(now + tonumber(ARGV[11]), tat - tolerance, pause_until)
if window_n > 0 then
    -- A burst could put more than window_n slots in one window: keep the log of the
    -- last window_n slots and start this one a whole window after the oldest of them.
    local n = redis.call('ZCARD', KEYS[3])
    if n >= window_n then
        local oldest = redis.call('ZRANGE', KEYS[3], n - window_n, n - window_n, 'WITHSCORES')
        slot = math.max(slot, tonumber(oldest[2]) + window)
    end
    if n > 0 then
        local last = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')
        slot = math.max(slot, tonumber(last[2]))
    end
end
local new_tat = math.max(tat, slot) + interval
-- Keys outlive the schedule by a window, then vanish: an idle limiter leaves nothing.
local ttl = math.ceil((new_tat - now + window) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.17g', new_tat), 'PX', ttl)
if window_n > 0 then
    -- new_tat grows with every call, so it is a unique member name.
    redis.call('ZADD', KEYS[3], string.format('%.17g', slot), string.format('%.17g', new_tat))
    redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -(window_n + 1))
    redis.call('PEXPIRE', KEYS[3], ttl)
end
return {now, math.ceil(slot), rate_text, ceiling_text, changed_text}
