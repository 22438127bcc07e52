"""The offline chatbot: dialogues, corpus loading and augmentation, and the tiny DialoGPT training."""
