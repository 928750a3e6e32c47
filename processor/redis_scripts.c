/*
 * redis_scripts.c - the Lua scripts of the Redis state store; their keys,
 * arguments and replies are described in redis_scripts.h.
 *
 * Per-key work is kept minimal (Redis spends ~6 us per call inside a
 * script): one HSET/HDEL per bucket hash with all its fields (a split
 * bucket is deleted and written again whole), one RPUSH for
 * the outbox, one HMGET for the checks and one HSET for meta.
 */
#include "redis_scripts.h"

#include <stddef.h>

static const char acquire_lua[] =
    "local meta = KEYS[1]\n"
    "local layout = redis.call('HGET', meta, 'layout')\n"
    "if layout and layout ~= ARGV[2] then\n"
    "  return {err = 'HFLAYOUT state layout ' .. layout ..\n"
    "          ' is not supported (expected ' .. ARGV[2] .. ')'}\n"
    "end\n"
    "redis.call('HINCRBY', meta, 'epoch', 1)\n"
    "redis.call('HSETNX', meta, 'buckets', ARGV[1])\n"
    "redis.call('HSET', meta, 'layout', ARGV[2], 'batch', '0')\n"
    "return redis.call('HGETALL', meta)\n";

static const char commit_lua[] =
    "local meta, outbox = KEYS[1], KEYS[2]\n"
    "local m = redis.call('HMGET', meta, 'epoch', 'batch', 'outbox_seq',\n"
    "                     'customers')\n"
    "if m[1] ~= ARGV[1] then return {'FENCED', m[1] or ''} end\n"
    "if m[2] == ARGV[2] then\n"
    "  return {'DONE', m[3] or '0', tonumber(m[4] or '0')}\n"
    "end\n"
    "if (m[3] or '0') ~= ARGV[3] then\n"
    "  return {'CONFLICT', 'outbox_seq', m[3] or '0'}\n"
    "end\n"
    "local nt = tonumber(ARGV[6])\n"
    "local i = 7\n"
    "if nt > 0 then\n"
    "  local f = {}\n"
    "  for t = 0, nt - 1 do f[t + 1] = ARGV[i + 3 * t] end\n"
    "  local cur = redis.call('HMGET', meta, unpack(f))\n"
    "  for t = 0, nt - 1 do\n"
    "    if (cur[t + 1] or '-1') ~= ARGV[i + 3 * t + 1] then\n"
    "      return {'CONFLICT', f[t + 1], cur[t + 1] or '-1'}\n"
    "    end\n"
    "  end\n"
    "end\n"
    /* unpack() puts its results on Lua's C stack (8000 slots): chunk. */
    "local function chunked(cmd, key, from, to)\n"
    "  local n = 0\n"
    "  while from <= to do\n"
    "    local last = math.min(to, from + 3999)\n"
    "    n = n + redis.call(cmd, key, unpack(ARGV, from, last))\n"
    "    from = last + 1\n"
    "  end\n"
    "  return n\n"
    "end\n"
    "local upd = {'batch', ARGV[2], 'outbox_seq', ARGV[4]}\n"
    "if ARGV[5] ~= '' then\n"
    "  upd[#upd + 1] = 'clock'\n"
    "  upd[#upd + 1] = ARGV[5]\n"
    "end\n"
    "for t = 0, nt - 1 do\n"
    "  upd[#upd + 1] = ARGV[i + 3 * t]\n"
    "  upd[#upd + 1] = ARGV[i + 3 * t + 2]\n"
    "end\n"
    "i = i + 3 * nt\n"
    "local nmeta = tonumber(ARGV[i])\n"
    "for k = 1, 2 * nmeta do upd[#upd + 1] = ARGV[i + k] end\n"
    "i = i + 1 + 2 * nmeta\n"
    "local nout = tonumber(ARGV[i])\n"
    "i = i + 1\n"
    "if nout > 0 then\n"
    "  chunked('RPUSH', outbox, i, i + nout - 1)\n"
    "  i = i + nout\n"
    "end\n"
    "local delta = 0\n"
    "for k = 3, #KEYS do\n"
    "  if ARGV[i] == '1' then\n"
    "    delta = delta - redis.call('HLEN', KEYS[k])\n"
    "    redis.call('DEL', KEYS[k])\n"
    "  end\n"
    "  local nset = tonumber(ARGV[i + 1])\n"
    "  i = i + 2\n"
    "  if nset > 0 then\n"
    "    delta = delta + chunked('HSET', KEYS[k], i, i + 2 * nset - 1)\n"
    "    i = i + 2 * nset\n"
    "  end\n"
    "  local ndel = tonumber(ARGV[i])\n"
    "  i = i + 1\n"
    "  if ndel > 0 then\n"
    "    delta = delta - chunked('HDEL', KEYS[k], i, i + ndel - 1)\n"
    "    i = i + ndel\n"
    "  end\n"
    "end\n"
    "redis.call('HSET', meta, unpack(upd))\n"
    "local count = redis.call('HINCRBY', meta, 'customers', delta)\n"
    "return {'OK', ARGV[4], count}\n";

static const char trim_lua[] =
    "local e = redis.call('HGET', KEYS[1], 'epoch')\n"
    "if e ~= ARGV[1] then return {'FENCED', e or ''} end\n"
    "local head = redis.call('LINDEX', KEYS[2], 0)\n"
    "if not head then return {'OK', 0} end\n"
    "local n = tonumber(ARGV[2]) - tonumber(string.sub(head, 1, 16), 16) + 1\n"
    "if n <= 0 then return {'OK', 0} end\n"
    "local len = redis.call('LLEN', KEYS[2])\n"
    "if n > len then n = len end\n"
    "redis.call('LTRIM', KEYS[2], n, -1)\n"
    "return {'OK', n}\n";

static const char *const sources[HF_SCRIPT_COUNT] = {acquire_lua, commit_lua,
                                                     trim_lua};
static const char *const names[HF_SCRIPT_COUNT] = {"acquire", "commit", "trim"};

const char *hf_redis_script(hf_redis_script_id id)
{
    return (unsigned)id < HF_SCRIPT_COUNT ? sources[id] : NULL;
}

const char *hf_redis_script_name(hf_redis_script_id id)
{
    return (unsigned)id < HF_SCRIPT_COUNT ? names[id] : "?";
}
