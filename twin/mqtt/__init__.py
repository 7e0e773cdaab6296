"""MQTT: the own broker, the topic scheme, the durable ingest worker.

Readings arrive on ``twin/sensors/<sensor>/<property>`` as JSON (see
:mod:`twin.mqtt.messages`); :mod:`twin.mqtt.broker` runs the project's own mosquitto and
:mod:`twin.mqtt.worker` stores the readings in PostGIS, nothing lost and nothing twice.
"""
