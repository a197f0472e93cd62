"""The console's texts: for each key, (English, Spanish, Brazilian Portuguese).

Placeholders are ``{name}`` (``str.format``); every language must use the same ones
(``tests/console/test_i18n.py``). Messages of the engine's services (errors of a
configuration, of the directory) stay in English, as the API gives them.
"""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str, str]] = {
    # frame
    "app.name": ("flow-engine console", "consola flow-engine", "console flow-engine"),
    "app.skip": ("Skip to content", "Ir al contenido", "Pular para o conteúdo"),
    "app.sign_out": ("Sign out", "Cerrar sesión", "Sair"),
    "nav.label": ("Modules", "Módulos", "Módulos"),
    "nav.desk": ("Service", "Servicio", "Atendimento"),
    "nav.numbers": ("Integration plugin", "Plugin de integración", "Plugin de integração"),
    "nav.human_service": ("Human service", "Servicio humano", "Atendimento humano"),
    "nav.templates": ("Templates", "Plantillas", "Templates"),
    "nav.notifications": (
        "Active notifications",
        "Envío de notificaciones activas",
        "Envio de notificações ativas",
    ),
    "nav.data": ("Data", "Datos", "Dados"),
    "nav.health": ("Number health", "La salud de los números", "Saúde dos números"),
    "nav.profiles": ("Access profiles", "Perfiles de acceso", "Perfis de acesso"),
    "nav.members": ("Members", "Miembros", "Membros"),
    "nav.system": (
        "System administration",
        "Administración del sistema",
        "Administração do sistema",
    ),
    # sign-in
    "login.title": ("Sign in", "Iniciar sesión", "Entrar"),
    "login.email": ("E-mail", "Correo electrónico", "E-mail"),
    "login.password": ("Password", "Contraseña", "Senha"),
    "login.submit": ("Sign in", "Entrar", "Entrar"),
    "login.help": (
        "No password yet? Ask your administrator to set one.",
        "¿Aún sin contraseña? Pida a su administrador que le asigne una.",
        "Ainda sem senha? Peça ao administrador que defina uma.",
    ),
    "login.wrong": (
        "Wrong e-mail or password.",
        "Correo electrónico o contraseña incorrectos.",
        "E-mail ou senha incorretos.",
    ),
    "login.locked": (
        "Too many failed sign-ins. Try again later.",
        "Demasiados intentos fallidos. Inténtelo más tarde.",
        "Muitas tentativas sem sucesso. Tente novamente mais tarde.",
    ),
    "login.expired": (
        "The sign-in form expired. Please try again.",
        "El formulario caducó. Inténtelo de nuevo.",
        "O formulário expirou. Tente novamente.",
    ),
    # home and account
    "home.title": ("Start", "Inicio", "Início"),
    "home.hello": ("Hello, {name}", "Hola, {name}", "Olá, {name}"),
    "home.soon": ("coming soon", "próximamente", "em breve"),
    "home.no_modules": (
        "Your access profile grants no module yet. Ask your administrator.",
        "Su perfil de acceso aún no concede ningún módulo. Consulte a su administrador.",
        "Seu perfil de acesso ainda não concede nenhum módulo. Fale com o administrador.",
    ),
    "account.title": ("Your account", "Su cuenta", "Sua conta"),
    "account.language": ("Language", "Idioma", "Idioma"),
    "account.browser": ("As my browser", "Como mi navegador", "Como meu navegador"),
    "account.password": ("Password", "Contraseña", "Senha"),
    "account.current": ("Current password", "Contraseña actual", "Senha atual"),
    "account.new": ("New password", "Nueva contraseña", "Nova senha"),
    "account.again": (
        "Repeat the new password",
        "Repita la nueva contraseña",
        "Repita a nova senha",
    ),
    "account.rule": (
        "At least 10 characters.",
        "Al menos 10 caracteres.",
        "Pelo menos 10 caracteres.",
    ),
    "account.change": ("Change password", "Cambiar contraseña", "Alterar senha"),
    "account.mismatch": (
        "The two passwords differ.",
        "Las dos contraseñas no coinciden.",
        "As duas senhas são diferentes.",
    ),
    "account.done_password": (
        "Password changed. Your other sessions were signed out.",
        "Contraseña cambiada. Sus otras sesiones se cerraron.",
        "Senha alterada. Suas outras sessões foram encerradas.",
    ),
    "account.done_language": ("Language saved.", "Idioma guardado.", "Idioma salvo."),
    # forms
    "form.save": ("Save", "Guardar", "Salvar"),
    "form.errors": (
        "Please correct these fields",
        "Corrija estos campos",
        "Corrija estes campos",
    ),
    "form.search": ("Search", "Buscar", "Buscar"),
    "form.cancel": ("Cancel", "Cancelar", "Cancelar"),
    # errors
    "error.401": ("Please sign in", "Inicie sesión", "Entre novamente"),
    "error.403": ("Not allowed", "Acceso no permitido", "Acesso não permitido"),
    "error.404": ("Not found", "No encontrado", "Não encontrado"),
    "error.other": ("Something went wrong", "Algo salió mal", "Algo deu errado"),
    "error.home": ("Back to the start", "Volver al inicio", "Voltar ao início"),
    # desk
    "desk.title": ("Service", "Servicio", "Atendimento"),
    "desk.number": ("Number", "Número", "Número"),
    "desk.all_numbers": ("All your numbers", "Todos sus números", "Todos os seus números"),
    "desk.queue": ("Queue", "Cola", "Fila"),
    "desk.filter": ("Filter", "Filtrar", "Filtrar"),
    "desk.reconnecting": (
        "Live updates interrupted; reconnecting…",
        "Actualización en vivo interrumpida; reconectando…",
        "Atualização ao vivo interrompida; reconectando…",
    ),
    "desk.waiting": ("Waiting", "En espera", "Aguardando"),
    "desk.yours": ("Your tickets", "Sus tickets", "Seus tickets"),
    "desk.contact": ("Contact", "Contacto", "Contato"),
    "desk.since": ("Waiting since", "En espera desde", "Aguardando desde"),
    "desk.messages": ("Messages", "Mensajes", "Mensagens"),
    "desk.last_activity": ("Last activity", "Última actividad", "Última atividade"),
    "desk.none_waiting": (
        "Nobody is waiting.",
        "No hay nadie en espera.",
        "Ninguém aguardando.",
    ),
    "desk.none_yours": (
        "You have no open tickets.",
        "No tiene tickets abiertos.",
        "Você não tem tickets abertos.",
    ),
    "desk.back": ("Back to the queue", "Volver a la cola", "Voltar à fila"),
    "desk.conversation": ("Conversation", "Conversación", "Conversa"),
    "desk.reply": ("Your answer", "Su respuesta", "Sua resposta"),
    "desk.send": ("Send", "Enviar", "Enviar"),
    "desk.from_contact": ("Contact", "Contacto", "Contato"),
    "desk.from_attendant": ("Attendant", "Asistente", "Atendente"),
    "desk.from_bot": ("Bot", "Bot", "Bot"),
    "desk.no_messages": ("No messages yet.", "Aún no hay mensajes.", "Ainda não há mensagens."),
    "desk.ticket": ("Ticket", "Ticket", "Ticket"),
    "desk.status": ("Status", "Estado", "Status"),
    "desk.attendant": ("Attendant", "Asistente", "Atendente"),
    "desk.opened": ("Opened", "Abierto", "Aberto"),
    "desk.take": ("Take ticket", "Tomar ticket", "Assumir ticket"),
    "desk.transfer_to": ("Transfer to queue", "Transferir a la cola", "Transferir para a fila"),
    "desk.transfer": ("Transfer", "Transferir", "Transferir"),
    "desk.close": ("Close ticket", "Cerrar ticket", "Encerrar ticket"),
    "desk.successor": (
        "The ticket it was transferred to",
        "El ticket al que se transfirió",
        "O ticket para o qual foi transferido",
    ),
    "status.waiting": ("Waiting", "En espera", "Aguardando"),
    "status.assigned": ("Assigned", "Asignado", "Atribuído"),
    "status.closed_by_attendant": (
        "Closed by the attendant",
        "Cerrado por el asistente",
        "Encerrado pelo atendente",
    ),
    "status.closed_by_contact": (
        "Closed by the contact",
        "Cerrado por el contacto",
        "Encerrado pelo contato",
    ),
    "status.closed_by_inactivity": (
        "Closed by inactivity",
        "Cerrado por inactividad",
        "Encerrado por inatividade",
    ),
    "status.transferred": ("Transferred", "Transferido", "Transferido"),
}
