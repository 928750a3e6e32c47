/*
 * redis_scripts.c - the Lua scripts of the Redis state store; their keys,
 * arguments and replies are described in redis_scripts.h. (A batch's
 * commit is a MULTI/EXEC transaction instead: redis_commit.c.)
 */
#include "redis/redis_scripts.h"

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

static const char *const sources[HF_SCRIPT_COUNT] = {acquire_lua, trim_lua};
static const char *const names[HF_SCRIPT_COUNT] = {"acquire", "trim"};

const char *hf_redis_script(hf_redis_script_id id)
{
    return (unsigned)id < HF_SCRIPT_COUNT ? sources[id] : NULL;
}

const char *hf_redis_script_name(hf_redis_script_id id)
{
    return (unsigned)id < HF_SCRIPT_COUNT ? names[id] : "?";
}
