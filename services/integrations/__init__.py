"""Integrations: what happens at the front desk reaches the office's other systems.

- :mod:`.catalog` names the events and builds their payloads (Standard Webhooks shape);
- :mod:`.recorder` turns the engine's change events into durable event and delivery rows;
- :mod:`.delivery_state` owns a delivery's lifecycle, :mod:`.worker` runs due deliveries
  on the number holder, through :mod:`.webhook_post` (signed HTTP) or :mod:`.hubspot`;
- :mod:`.endpoints` checks URLs and names secrets; :mod:`.service` is what the composition
  root builds and the Settings screen talks to.
"""
