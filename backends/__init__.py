"""Demo backend services (orders and identity) that the assistant's custom actions call.

A real shop points the actions at its own services; this package exists so the project runs
end to end out of the box and so ``openapi.yaml`` has a reference implementation.
"""
