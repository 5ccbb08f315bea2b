"""Research with evidence: the pure parts of the ``research`` node type.

``evidence`` decides whether an answer is supported by the quote the model gave
and the page that quote came from; it knows nothing of providers or the store,
so its rules can be tested on strings alone.
"""
