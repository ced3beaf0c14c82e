/**
 * The Lua scripts of the collective, registered on the write connection with `defineCommand`
 * (EVALSHA, falling back to EVAL). Each opens with its KEYS/ARGV contract. Standalone Redis only:
 * `cimJoin` writes notification keys it computes from ARGV.
 */
import type { Redis } from 'ioredis';

/**
 * Join the rendezvous roster of a run.
 * KEYS[1]  roster hash: field rank → "token|deadlineMs|worldSize|joinedMs" (server clock, ms;
         token "-" once the member left after its own timeout)
 * ARGV[1]  rank            ARGV[2] worldSize       ARGV[3] token (random, per join)
 * ARGV[4]  generation id to use if this join completes the gang
 * ARGV[5]  rendezvous timeout ms (this entry is stale after it)
 * ARGV[6]  notification key prefix: each waiting member's generation goes to prefix..token (a list)
 * ARGV[7]  notification key TTL ms
 * Returns {"wait", members, nowMs} | {"sealed", generation} | {"duplicate", ageMs} | {"worldSize", otherRank, otherWorldSize}.
 * Entries past their deadline (a joiner that crashed while waiting) are dropped first; entries
 * of members that left are kept until then, so that a peer timing out can still see they came.
 * When the roster reaches worldSize members it is deleted and every other member is notified.
 */
const JOIN = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rank, ws, timeout = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[5])
local flat = redis.call('HGETALL', KEYS[1])
local live = {}
local count = 0
for i = 1, #flat, 2 do
  local token, deadline, w, joined = string.match(flat[i + 1], '^([^|]*)|(%d+)|(%d+)|(%d+)$')
  if deadline == nil or tonumber(deadline) < now then
    redis.call('HDEL', KEYS[1], flat[i])
  elseif token ~= '-' then
    live[flat[i]] = { token = token, ws = tonumber(w), joined = tonumber(joined) }
    count = count + 1
  end
end
if live[rank] then
  return { 'duplicate', tostring(now - live[rank].joined) }
end
for r, e in pairs(live) do
  if e.ws ~= ws then return { 'worldSize', r, tostring(e.ws) } end
end
if count + 1 == ws then
  for _, e in pairs(live) do
    local key = ARGV[6] .. e.token
    redis.call('RPUSH', key, ARGV[4])
    redis.call('PEXPIRE', key, ARGV[7])
  end
  redis.call('DEL', KEYS[1])
  return { 'sealed', ARGV[4] }
end
redis.call('HSET', KEYS[1], rank, ARGV[3] .. '|' .. tostring(now + timeout) .. '|' .. ARGV[2] .. '|' .. tostring(now))
local ttl = redis.call('PTTL', KEYS[1])
if ttl < timeout + 1000 then redis.call('PEXPIRE', KEYS[1], timeout + 1000) end
return { 'wait', tostring(count + 1), tostring(now) }
`;

/**
 * Leave the roster after a rendezvous timeout, unless the gang was sealed meanwhile: the entry's
 * token becomes "-" (no longer a member, still visible as "came" until its deadline).
 * KEYS[1] roster hash.  ARGV[1] rank  ARGV[2] token.
 * Returns 1 if this join's entry was marked, 0 if it was not there (sealed, or replaced).
 */
const LEAVE = `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v and string.sub(v, 1, #ARGV[2] + 1) == ARGV[2] .. '|' then
  redis.call('HSET', KEYS[1], ARGV[1], '-' .. string.sub(v, #ARGV[2] + 1))
  return 1
end
return 0
`;

/**
 * One rank is done with an operation; the last of worldSize deletes the operation's keys.
 * KEYS[1] done counter; KEYS[2..] the operation's keys (streams).
 * ARGV[1] worldSize  ARGV[2] counter TTL ms (for a gang that dies before everyone is done).
 * Returns the number of ranks done so far (worldSize when this call deleted the keys).
 */
const FINISH = `
local n = redis.call('INCR', KEYS[1])
if n >= tonumber(ARGV[1]) then
  redis.call('DEL', unpack(KEYS))
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return n
`;

/** The script commands `registerCollectiveScripts` adds to a connection. */
export interface CollectiveScripts {
  cimJoin(
    roster: string,
    rank: number,
    worldSize: number,
    token: string,
    generation: string,
    timeoutMs: number,
    notifyPrefix: string,
    notifyTtlMs: number,
  ): Promise<string[]>;
  cimLeave(roster: string, rank: number, token: string): Promise<number>;
  /** `numKeys` = 1 + operation keys */
  cimFinish(numKeys: number, ...keysThenArgs: (string | number)[]): Promise<number>;
}

export function registerCollectiveScripts(redis: Redis): Redis & CollectiveScripts {
  redis.defineCommand('cimJoin', { numberOfKeys: 1, lua: JOIN });
  redis.defineCommand('cimLeave', { numberOfKeys: 1, lua: LEAVE });
  redis.defineCommand('cimFinish', { lua: FINISH });
  return redis as Redis & CollectiveScripts;
}
