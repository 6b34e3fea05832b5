"""The personalization worker: learns the user on the device, in idle time only.

``scheduler`` decides when (idle, on AC, nobody waiting for the model); ``memories`` and
``extraction`` keep long-term memories; ``ranker`` and ``ranker_training`` learn from feedback;
``service.Personalizer`` puts them together for the runtime.
"""
