import asyncio
from pysnmp.hlapi.v3arch.asyncio import *
from pysnmp.proto import rfc1902, rfc1905
async def main():
    eng = SnmpEngine()
    t = await UdpTransportTarget.create(("10.77.0.1", 161), timeout=1, retries=1)
    ei, es, ex, vbs = await bulk_cmd(eng, CommunityData("s3cret"), t, ContextData(), 0, 5, ObjectType(ObjectIdentity((1,3,6,1,2,1,1))), lookupMib=False)
    print(ei, es, type(vbs), len(vbs))
    for x in vbs: print(type(x).__name__, [type(y).__name__ for y in x], x[0], x[1].__class__.__mro__[:3])
    ei, es, ex, vbs = await get_cmd(eng, CommunityData("s3cret"), t, ContextData(), ObjectType(ObjectIdentity((1,3,6,1,2,1,1,1,0))), ObjectType(ObjectIdentity((1,3,6,1,2,1,1,9,9,0))), lookupMib=False)
    print(ei, es, [(str(a), type(b).__name__) for a,b in vbs])
    t2 = await UdpTransportTarget.create(("10.77.0.9", 161), timeout=0.5, retries=0)
    print(await get_cmd(eng, CommunityData("s3cret"), t2, ContextData(), ObjectType(ObjectIdentity((1,3,6,1,2,1,1,1,0))), lookupMib=False))
    eng.close_dispatcher()
asyncio.run(main())
