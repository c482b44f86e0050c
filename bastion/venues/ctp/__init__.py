"""The CTP adapter (China futures) on ``openctp-ctp``: SimNow, brokers' test fronts, live.

Same skeleton as every adapter: ``config``, ``instruments``, ``execution``,
``market_data``, ``parsing``, ``errors``, and ``profile`` (the registry's builder). CTP's
own parts: ``runtime`` (the locale check before the binding loads), ``codes`` (CTP's
one-character codes), ``spi`` (the callbacks, on CTP's thread), ``port`` (the narrow
ports the real binding and the fake counter share), ``link`` (login and queries),
``offsets`` (net orders into open/close-today/close-yesterday legs), ``orders`` (order
identities) and ``recovery``. Nothing here imports the binding at module load.
"""
