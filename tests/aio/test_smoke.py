from __future__ import annotations


def test_round_trip(run_any_loop, make_client) -> None:
    async def body() -> None:
        async with make_client() as client:
            assert client.is_connected
            sub = await client.subscribe("/queue/a", ack="client-individual")
            await client.send("/queue/a", b"hello", receipt=True)
            message = await sub.get(timeout=5)
            assert message.body == b"hello"
            await message.ack(receipt=True)
        assert not client.is_connected

    run_any_loop(body())
